"""Prometheus metrics of every cluster, read from the store at each scrape: never from Kafka.

The detector writes each cluster's status once a run (`kafka_medic.detector.status`); the anomaly log,
the executor's journal and the action log hold the rest. A scrape is a fixed handful of indexed reads
per cluster (the latest status rows, the open anomalies by kind, the running execution's tasks and
throttles, the latest action), so Prometheus can scrape as often as it likes without loading Kafka or
rebuilding the load model.

`StoreCollector` is a custom collector, registered by the caller in a registry of its own per request
(no process-wide registry to leak into). When the store cannot be read, the scrape still succeeds with
`kafka_medic_up 0` alone: Prometheus keeps the series, alerting on it is one rule, and the reason is in
the server's log, where a 503 would have dropped it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kafka_medic.detector.anomaly import KINDS
from kafka_medic.detector.log import AnomalyLog
from kafka_medic.detector.status import ClusterStatus, StatusLog
from kafka_medic.errors import MedicError
from kafka_medic.executor.journal import DONE, SKIPPED, SUBMITTED, Journal
from kafka_medic.executor.throttles import BROKER
from kafka_medic.kafka.state import THROTTLE_RATE_CONFIGS
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.notify.action_log import ActionLog

log = logging.getLogger(__name__)
PREFIX = "kafka_medic_"
DIRECTIONS = {config: config.split(".")[0] for config in THROTTLE_RATE_CONFIGS}  # leader, follower


@dataclass(frozen=True)
class ExecutionFigures:
    """A running execution from the journal alone: bytes of finished moves, not the copy in flight."""

    cluster: str
    moves_total: int
    moves_done: int
    moves_in_flight: int
    bytes_total: int
    bytes_done: int
    rates: dict[tuple[str, str], float]  # (broker, leader|follower) -> bytes/s kafka-medic set


class StoreCollector(Collector):
    """Every cluster's gauges from the store at `url` (default: the configured store), read at each collect.

    A running execution's moves never change, only their states: the bytes each one copies are read (and
    their JSON parsed) at the first scrape that sees the execution and kept while it runs, so later
    scrapes read the states alone (10,000 moves: see bench/README.md).
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._move_bytes: dict[tuple[str, str], dict[tuple[str, int], int]] = {}  # (store, execution) -> sizes

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        try:
            families = list(self._families())
        except (MedicError, sa.exc.SQLAlchemyError, OSError) as exc:
            log.error("metrics: cannot read the store: %s", exc)
            yield _up(0)
            return
        yield _up(1)
        yield from families
        yield _gauge("scrape_duration_seconds", "time this scrape spent reading the store", [],
                     [([], time.monotonic() - started)])

    def _families(self) -> Iterator[Metric]:
        with StatusLog(self.url) as statuses:
            latest = statuses.latest()
        with Journal(self.url) as journal:
            running = journal.running()
            known = {(journal.url, e): self._move_bytes.get((journal.url, e)) for _, e in running}
            self._move_bytes = {key: sizes or move_bytes(journal, key[1]) for key, sizes in known.items()}
            executions = [execution_figures(journal, cluster, e, self._move_bytes[journal.url, e])
                          for cluster, e in running]
        clusters = sorted({s.cluster for s in latest} | {e.cluster for e in executions})
        with AnomalyLog(self.url) as anomalies:
            open_counts = {c: anomalies.open_counts(c) for c in clusters}
        with ActionLog(self.url) as actions:
            last_action = {c: recent[0].finished_at for c in clusters if (recent := actions.recent(c, limit=1))}
        yield from _status_families(latest)
        yield _gauge("open_anomalies", "anomalies open in the anomaly log, by kind", ["cluster", "kind"],
                     [([c, kind], counts.get(kind, 0)) for c, counts in open_counts.items()
                      for kind in sorted({*KINDS, *counts})])
        yield from _execution_families(executions)
        yield _gauge("last_action_timestamp_seconds",
                     "when the latest remediation run (planned, executed, skipped or rejected) ended, Unix time",
                     ["cluster"], [([c], t) for c, t in last_action.items()])


def metrics_text(collector: Collector) -> bytes:
    """One scrape of `collector` in Prometheus's text format, from a registry made for this scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)


def move_bytes(journal: Journal, execution_id: str) -> dict[tuple[str, int], int]:
    return {t.task.key: t.task.bytes_to_move for t in journal.tasks(execution_id)}


def execution_figures(
    journal: Journal, cluster: str, execution_id: str, sizes: dict[tuple[str, int], int],
    states: dict[tuple[str, int], str] | None = None,
) -> ExecutionFigures:
    """The figures of a running execution; `states` are its moves' states when the caller has read them already."""
    states = states or journal.task_states(execution_id)
    return figures_of(cluster, np.array(list(states.values()), dtype=str), np.array([sizes[k] for k in states]),
                      throttle_rates(journal, execution_id))


def figures_of(cluster: str, states: np.ndarray, sizes: np.ndarray,
               rates: dict[tuple[str, str], float]) -> ExecutionFigures:
    """The figures from the moves' states and bytes as aligned columns (skipped moves left out)."""
    kept = states != SKIPPED
    done = states == DONE
    return ExecutionFigures(
        cluster=cluster, moves_total=int(kept.sum()), moves_done=int(done.sum()),
        moves_in_flight=int((states == SUBMITTED).sum()), bytes_total=int(sizes[kept].sum()),
        bytes_done=int(sizes[done].sum()), rates=rates,
    )


def throttle_rates(journal: Journal, execution_id: str) -> dict[tuple[str, str], float]:
    """(broker, leader|follower) -> bytes/s of the broker throttles the execution set and has not cleared."""
    return {
        (t.name, DIRECTIONS[t.config]): float(t.applied)
        for t in journal.throttles(execution_id)
        if t.resource == BROKER and t.config in DIRECTIONS and t.applied is not None and not t.cleared
    }


def _status_families(latest: list[ClusterStatus]) -> Iterator[Metric]:
    def per_cluster(name: str, doc: str, value) -> Metric:
        return _gauge(name, doc, ["cluster"], [([s.cluster], value(s)) for s in latest])

    yield per_cluster("status_timestamp_seconds", "when the detector last recorded the cluster's status, Unix time",
                      lambda s: s.at)
    yield _gauge("brokers", "brokers alive and dead at the latest status", ["cluster", "state"],
                 [([s.cluster, state], n) for s in latest
                  for state, n in (("alive", s.brokers_alive), ("dead", s.brokers_dead))])
    yield per_cluster("under_replicated_partitions", "under-replicated partitions at the latest status",
                      lambda s: s.under_replicated)
    yield per_cluster("offline_partitions", "partitions without a leader at the latest status", lambda s: s.offline)
    yield per_cluster("balancedness", "Cruise Control's balancedness of the placement over the detector's goals, "
                      "0-100", lambda s: s.balancedness)
    for stat, doc in (("max", "the most utilised broker's"), ("mean", "the mean")):
        yield _gauge(f"utilisation_{stat}_percent", f"{doc} use of capacity over brokers that keep data, %",
                     ["cluster", "resource"],
                     [([s.cluster, r], getattr(s, f"{stat}_pct")[r]) for s in latest for r in RESOURCES])
    yield per_cluster("load_windows", "load windows the load model asks for", lambda s: s.windows)
    yield per_cluster("load_valid_windows", "load windows with enough valid partitions", lambda s: s.valid_windows)
    yield per_cluster("load_valid_partition_ratio", "share of partitions valid in every window, 0-1",
                      lambda s: s.valid_partition_ratio)


def _execution_families(executions: list[ExecutionFigures]) -> Iterator[Metric]:
    def per_cluster(name: str, doc: str, value) -> Metric:
        return _gauge(name, doc, ["cluster"], [([e.cluster], value(e)) for e in executions])

    yield per_cluster("execution_moves_total", "partition moves of the running execution", lambda e: e.moves_total)
    yield per_cluster("execution_moves_done", "partition moves of the running execution that finished",
                      lambda e: e.moves_done)
    yield per_cluster("execution_moves_in_flight", "partition moves submitted to the cluster and not finished",
                      lambda e: e.moves_in_flight)
    yield per_cluster("execution_bytes_total", "bytes the running execution's new replicas copy",
                      lambda e: e.bytes_total)
    yield per_cluster("execution_bytes_done", "bytes of the running execution's finished moves",
                      lambda e: e.bytes_done)
    yield _gauge("throttle_rate_bytes_per_second", "replication throttle the running execution set on a broker",
                 ["cluster", "broker", "direction"],
                 [([e.cluster, broker, direction], rate) for e in executions
                  for (broker, direction), rate in sorted(e.rates.items())])


def _up(value: int) -> GaugeMetricFamily:
    return _gauge("up", "1 when the store was read for this scrape, 0 when it could not be", [], [([], value)])


def _gauge(name: str, doc: str, labels: list[str], samples: Iterable[tuple[list[str], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(PREFIX + name, doc, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family
