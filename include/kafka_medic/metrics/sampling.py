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
from kafka_medic.metrics.store import MetricsStore


class Sampler(Protocol):
    source: str

    @property
    def cluster_id(self) -> str | None:
        """The Kafka cluster id its last round saw: samples are stored under it, not under the name alone."""

    def sample(self, ts: float) -> tuple[list[BrokerSample], list[PartitionSample]]: ...


@dataclass
class RoundReport:
    ts: float
    broker_samples: int = 0
    partition_samples: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def sample_round(
    store: MetricsStore, cluster: str, samplers: list[Sampler], ts: float | None = None
) -> RoundReport:
    """Samplers run in list order: put the Admin sampler first, the others read its round."""
    report = RoundReport(ts=time.time() if ts is None else ts)
    for sampler in samplers:
        try:
            brokers, partitions = sampler.sample(report.ts)
        except (MedicError, OSError) as exc:
            report.errors[sampler.source] = str(exc)
            continue
        report.broker_samples += store.add_broker_samples(cluster, brokers, sampler.cluster_id)
        report.partition_samples += store.add_partition_samples(cluster, partitions, sampler.cluster_id)
    for kafka_cluster_id in {sampler.cluster_id for sampler in samplers}:  # windows this round closed
        store.aggregate(cluster, report.ts, kafka_cluster_id)
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
