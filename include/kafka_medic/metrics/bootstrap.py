"""Bootstrap: fill a fresh store's load windows from Prometheus history, so a new install can plan at once.

Cruise Control's `bootstrap` answers the same complaint: after a fresh start the load model has "not
enough valid windows" for a day. Prometheus usually has that day already. Range queries over the last N
hours, at the sampling step and with the live Prometheus sampler's queries (same metric names, same
`queries` file), give the rows that sampler would have written at each step; they are stored as its
rows (source "prometheus") and the load model counts them like any others.

What history cannot say is taken from the cluster now, by two Admin API readings: which partitions
exist and lead where, and each leader's share of its topic's messages (brokers report bytes per topic;
`broker_metrics` apportions them). A partition that moved or whose traffic shifted within the hours is
apportioned by today's placement: an estimate, as Cruise Control's is, and replaced window by window as
live samples age the history out.

Idempotent: history is written only before the oldest thing stored for the incarnation
(`MetricsStore.history_until`), so running it again writes nothing, and `--hours` larger than last
time fills only the older part. Every wait is bounded: the Admin API's own timeouts, and the
Prometheus client's per request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from kafka_medic.errors import MedicError
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.broker_metrics import readings_to_samples
from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.prometheus_sampler import SOURCE, PrometheusSampler, load_queries, readings
from kafka_medic.metrics.store import MetricsStore, SamplerRows

MAX_POINTS = 10_000  # per series and range query: Prometheus refuses more than 11,000
ADMIN_GAP_S = 2.0  # between the two Admin readings that give each partition's message rate


@dataclass
class BootstrapReport:
    """What a bootstrap wrote: the span [since, until) filled every `step_s`, and the rows."""

    cluster: str
    since: float
    until: float
    step_s: float
    rounds: int = 0
    broker_samples: int = 0
    partition_samples: int = 0
    skipped: str | None = None  # why nothing was written

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def bootstrap(
    store: MetricsStore,
    cluster: str,
    prometheus: PrometheusSampler,
    hours: float,
    step_s: float,
    now: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BootstrapReport:
    """Fill [now - hours, the oldest stored sample) of `cluster` from `prometheus`'s history."""
    now = time.time() if now is None else now
    admin: AdminSampler = prometheus.admin
    admin.sample(now)
    sleep(ADMIN_GAP_S)
    admin.sample(time.time())
    stored = store.history_until(cluster, admin.cluster_id)
    since = math.ceil((now - hours * 3600) / step_s) * step_s
    until = min(now, stored) if stored is not None else now
    report = BootstrapReport(cluster, since, until, step_s)
    if since >= until:
        report.skipped = "the store already holds samples from the whole span"
        return report
    rounds = history_rounds(prometheus, since, until, step_s)
    report.rounds = len(rounds)
    if not rounds:
        report.skipped = "Prometheus has no samples of these brokers in the span"
        return report
    report.broker_samples, report.partition_samples = store.add_history(cluster, admin.cluster_id, rounds, since)
    store.aggregate(cluster, now, admin.cluster_id)
    return report


def history_rounds(prometheus: PrometheusSampler, since: float, until: float, step_s: float) -> list[SamplerRows]:
    """One round per step in [since, until) that Prometheus has any reading for, as the live sampler's rows."""
    queries = prometheus.queries
    promql = [*queries["broker"].values(), *queries["topic"].values(), queries["size"]]
    at: dict[str, dict[float, list]] = {q: {} for q in promql}
    last = until - step_s * 1e-3  # the range's end is inclusive; `until` belongs to what is stored
    for chunk_start in _chunks(since, last, step_s):
        chunk_end = min(last, chunk_start + (MAX_POINTS - 1) * step_s)
        for query in promql:
            for labels, points in prometheus.query_range(query, chunk_start, chunk_end, step_s):
                for ts, value in points:
                    if math.isfinite(value):
                        at[query].setdefault(round(ts, 3), []).append((labels, value))
    times = sorted({ts for values in at.values() for ts in values})
    rows: list[SamplerRows] = []
    for ts in times:
        found = readings(queries, partial(_at, at, ts))
        brokers, partitions = readings_to_samples(ts, SOURCE, found, prometheus.admin)
        if brokers or partitions:
            rows.append((prometheus.cluster_id, brokers, partitions))
    return rows


def _at(at: dict[str, dict[float, list]], ts: float, query: str) -> list:
    """One query's results at one time of the range queries."""
    return at[query].get(ts, [])


def _chunks(since: float, last: float, step_s: float) -> list[float]:
    """Starts of range queries of at most MAX_POINTS steps covering [since, last]."""
    span = MAX_POINTS * step_s
    return [since + i * span for i in range(max(1, math.ceil((last - since) / span)))]


def bootstrap_cluster(
    store: MetricsStore,
    cluster: str,
    config: ClusterConfig,
    prometheus_url: str,
    hours: float,
    step_s: float,
    window_s: float,
    windows: int,
    min_valid_ratio: float = 0.95,
    queries_file: str | None = None,
) -> dict:
    """The CLI's and the bootstrap DAG's whole run: the report, with the load model's completeness over
    `windows` x `window_s` before and after (`windows_filled`: how many more windows are valid)."""
    check_hours(hours, step_s)
    prometheus = PrometheusSampler(prometheus_url, AdminSampler(config), load_queries(queries_file))
    before = build_load_model(store, cluster, window_s=window_s, windows=windows, min_valid_ratio=min_valid_ratio)
    report = bootstrap(store, cluster, prometheus, hours, step_s)
    after = build_load_model(store, cluster, window_s=window_s, windows=windows, min_valid_ratio=min_valid_ratio,
                             kafka_cluster_id=prometheus.cluster_id)
    return {
        **report.as_dict(),
        "window_s": window_s,
        "windows": windows,
        "valid_windows_before": before.valid_windows,
        "valid_windows": after.valid_windows,
        "windows_filled": after.valid_windows - before.valid_windows,
        "valid_partition_ratio": round(after.valid_partition_ratio, 4),
        "complete_before": before.complete,
        "complete": after.complete,
    }


def check_hours(hours: float, step_s: float) -> None:
    """A span of at least one step, at most two weeks (the load windows' longest horizon)."""
    if not 0 < hours <= 24 * 14:
        raise MedicError(f"bootstrap hours {hours:g}: give a number of hours in (0, 336]")
    if hours * 3600 < step_s:
        raise MedicError(f"bootstrap hours {hours:g}: shorter than one step of {step_s:g}s")
