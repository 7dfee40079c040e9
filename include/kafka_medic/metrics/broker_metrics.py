"""Turn what brokers report about themselves (JMX exporter, Prometheus) into samples.

Brokers report bytes per topic, not per partition. A partition's bytes in and out are its topic's
rate on the leader broker times the partition's share of that topic's messages there, which the
Admin sampler measures from end offsets in the same round (so it must run first in a round).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.sample import BrokerSample, PartitionSample

TOPIC_RATES = ("bytes_in", "bytes_out", "messages_in")


@dataclass
class BrokerReading:
    """One broker's view: broker-wide values (BROKER_METRICS), per-topic rates, replica sizes in bytes.

    `topics` is None until the source has rates (two readings of a counter); a topic missing from it
    had no traffic on this broker (Kafka creates per-topic meters on first use).
    """

    broker: dict[str, float] = field(default_factory=dict)
    topics: dict[str, dict[str, float]] | None = None
    sizes: dict[tuple[str, int], float] = field(default_factory=dict)


def readings_to_samples(
    ts: float, source: str, readings: dict[int, BrokerReading], admin: AdminSampler
) -> tuple[list[BrokerSample], list[PartitionSample]]:
    led: dict[tuple[int, str], list[tuple[str, int]]] = {}
    for key, row in admin.latest.items():
        led.setdefault((row.broker, key[0]), []).append(key)
    state = admin.latest_state
    known = {(p.topic, p.partition) for p in state.partitions} if state else set()
    brokers, partitions = [], []
    for broker_id, reading in sorted(readings.items()):
        brokers.append(BrokerSample(ts=ts, broker=broker_id, source=source, alive=True, **reading.broker))
        rates = {}
        for (leader, topic), led_here in led.items():
            if leader == broker_id and reading.topics is not None:
                rates.update(_apportion(reading.topics.get(topic, {}), led_here, admin))
        for (topic, part), size in sorted(reading.sizes.items()):
            if (topic, part) not in known:  # e.g. KRaft's __cluster_metadata, not a topic partition
                continue
            admin_row = admin.latest.get((topic, part))
            partitions.append(
                PartitionSample(
                    ts=ts, topic=topic, partition=part, broker=broker_id, source=source,
                    leader=admin_row is not None and admin_row.broker == broker_id,
                    reassigning=admin_row is not None and admin_row.reassigning,
                    size=size, **rates.get((topic, part), {}),
                )
            )  # fmt: skip
    return brokers, partitions


def _apportion(topic_rates: dict[str, float], partitions: list[tuple[str, int]], admin: AdminSampler):
    """Split a topic's rates over its partitions led by this broker by their share of messages."""
    messages: dict[tuple[str, int], float] = {}
    for p in partitions:
        rate = admin.latest[p].messages_in
        if rate is None:
            return {}
        messages[p] = rate
    if not messages:
        return {}
    total = sum(messages.values())
    shares = {p: m / total if total > 0 else 1 / len(partitions) for p, m in messages.items()}
    return {p: {k: topic_rates.get(k, 0.0) * share for k in TOPIC_RATES} for p, share in shares.items()}
