"""What a cluster looks like right now, as read from it: brokers, partitions, sizes, reassignments, configs.

This is the raw observed state. `kafka_medic.kafka.snapshot` turns it into the cluster model the
planner works on; the executor and the detector read it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

THROTTLE_RATE_CONFIGS = ("leader.replication.throttled.rate", "follower.replication.throttled.rate")
THROTTLE_REPLICA_CONFIGS = ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas")


@dataclass
class BrokerState:
    id: int
    host: str | None
    port: int | None
    rack: str | None
    alive: bool
    # Log dir path -> (total bytes, usable bytes), as DescribeLogDirs reports them (empty when dead).
    log_dirs: dict[str, tuple[int, int]] = field(default_factory=dict)
    # time.monotonic() halfway through the DescribeLogDirs request that gave its sizes: rates from
    # size deltas divide by the time between two such readings, not by when the whole state was read.
    sizes_read_at: float | None = None


@dataclass
class PartitionState:
    topic: str
    partition: int
    replicas: list[int]
    leader: int | None
    isr: list[int]
    offline_replicas: list[int] = field(default_factory=list)
    # Broker id -> size on disk in bytes and log dir, for replicas on brokers that answered.
    sizes: dict[int, int] = field(default_factory=dict)
    log_dirs: dict[int, str] = field(default_factory=dict)
    adding_replicas: list[int] = field(default_factory=list)
    removing_replicas: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.partition}"

    @property
    def offline(self) -> bool:
        return self.leader is None

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def reassigning(self) -> bool:
        return bool(self.adding_replicas or self.removing_replicas)

    @property
    def size_bytes(self) -> int:
        """The leader's size, or the largest replica's when the leader did not answer."""
        if self.leader is not None and self.leader in self.sizes:
            return self.sizes[self.leader]
        return max(self.sizes.values(), default=0)


@dataclass
class ClusterState:
    cluster_id: str
    controller_id: int | None
    brokers: dict[int, BrokerState]
    partitions: list[PartitionState]
    topic_configs: dict[str, dict[str, str]]
    broker_configs: dict[int, dict[str, str]]
    taken_at: str
    mode: str = "kraft"  # "kraft" or "zookeeper"

    @cached_property
    def by_key(self) -> dict[tuple[str, int], PartitionState]:
        """(topic, partition) -> its state, built once per read: a poll of 100,000 moves looks partitions up
        in several steps, and building this map took ~0.1 s each time."""
        return {(p.topic, p.partition): p for p in self.partitions}

    @property
    def dead_brokers(self) -> list[int]:
        return sorted(b.id for b in self.brokers.values() if not b.alive)

    @property
    def alive_brokers(self) -> list[int]:
        return sorted(b.id for b in self.brokers.values() if b.alive)

    def under_replicated_partitions(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.under_replicated]

    def offline_partitions(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.offline]

    def reassigning_partitions(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.reassigning]

    def min_insync_replicas(self, topic: str) -> int:
        return int(self.topic_configs.get(topic, {}).get("min.insync.replicas", 1))

    def throttles(self) -> dict[str, dict]:
        """Replication throttles in force: rates per broker and throttled replicas per topic."""
        rates = {
            b: {k: v for k, v in conf.items() if k in THROTTLE_RATE_CONFIGS}
            for b, conf in self.broker_configs.items()
        }
        replicas = {
            t: {k: v for k, v in conf.items() if k in THROTTLE_REPLICA_CONFIGS and v}
            for t, conf in self.topic_configs.items()
        }
        return {
            "brokers": {b: r for b, r in rates.items() if r},
            "topics": {t: r for t, r in replicas.items() if r},
        }
