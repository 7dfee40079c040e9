"""Sampling rounds: run every sampler once with one shared timestamp and store what they saw.

One timestamp per round lets the load model line up a reassignment flag from the Admin sampler
with the same round's JMX or Prometheus samples. A sampler that fails is reported and skipped,
so an unreachable broker or Prometheus never stops the others (nor the loop).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from kafka_medic.errors import MedicError
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore, SamplerRows


class Sampler(Protocol):
    source: str

    @property
    def cluster_id(self) -> str | None:
        """The Kafka cluster id its last round saw: samples are stored under it, not under the name alone."""

    def sample(self, ts: float) -> tuple[list[BrokerSample], list[PartitionSample]]: ...


@dataclass
class RoundReport:
    """What one round stored and how long it took: the figures the sample DAG logs and returns."""

    ts: float
    broker_samples: int = 0
    partition_samples: int = 0
    partitions: int = 0  # distinct partitions the round saw (the most any sampler saw)
    sample_s: float = 0.0  # asking the cluster (every sampler)
    write_s: float = 0.0  # the store's one transaction
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.sample_s + self.write_s

    def line(self) -> str:
        """One log line per round: what an operator compares with the sampling interval."""
        return (f"round: {self.partitions} partitions, {self.broker_samples + self.partition_samples} rows "
                f"in {self.seconds:.2f}s (sampling {self.sample_s:.2f}s, writing {self.write_s:.2f}s)")


def sample_round(
    store: MetricsStore, cluster: str, samplers: list[Sampler], ts: float | None = None
) -> RoundReport:
    """Samplers run in list order: put the Admin sampler first, the others read its round."""
    report = RoundReport(ts=time.time() if ts is None else ts)
    started = time.monotonic()
    rows: list[SamplerRows] = []
    for sampler in samplers:
        try:
            brokers, partitions = sampler.sample(report.ts)
        except (MedicError, OSError) as exc:
            report.errors[sampler.source] = str(exc)
            continue
        rows.append((sampler.cluster_id, brokers, partitions))
        report.partitions = max(report.partitions, len({(s.topic, s.partition) for s in partitions}))
    sampled = time.monotonic()
    report.broker_samples, report.partition_samples = store.add_round(cluster, rows)
    for kafka_cluster_id in {sampler.cluster_id for sampler in samplers}:  # windows this round closed
        store.aggregate(cluster, report.ts, kafka_cluster_id)
    report.sample_s, report.write_s = sampled - started, time.monotonic() - sampled
    return report


def sample_loop(
    store: MetricsStore,
    cluster: str,
    samplers: list[Sampler],
    interval_s: float,
    rounds: int | None = None,
    retention_s: float | None = None,
    on_round: Callable[[RoundReport], None] | None = None,
) -> None:
    """A priming round, then `rounds` more (forever if None) every `interval_s`; prunes past retention.

    Rates need two readings, so `rounds=1` already takes two readings, interval_s apart.
    """
    done, next_at = -1, time.monotonic()
    while rounds is None or done < rounds:
        report = sample_round(store, cluster, samplers)
        done += 1
        if retention_s is not None:
            store.prune(before=report.ts - retention_s)
        if on_round:
            on_round(report)
        for source, error in report.errors.items():
            print(f"kafka-medic: {source} sampler failed: {error}", file=sys.stderr)
        if rounds is not None and done >= rounds:
            break
        next_at += interval_s
        time.sleep(max(0.0, next_at - time.monotonic()))


def round_figures(reports: list[RoundReport]) -> dict[str, float]:
    """A run's figures, the sample task's return value: rounds, the last round's partitions and rows,
    and round seconds."""
    seconds = [r.seconds for r in reports] or [0.0]
    last = reports[-1] if reports else None
    return {
        "rounds": len(reports),
        "partitions": last.partitions if last else 0,
        "rows": last.broker_samples + last.partition_samples if last else 0,
        "round_s_mean": round(sum(seconds) / len(seconds), 3),
        "round_s_max": round(max(seconds), 3),
        "write_s_max": round(max((r.write_s for r in reports), default=0.0), 3),
    }

