"""A sampler that needs nothing on the brokers: the Admin API alone.

Sizes per replica come from DescribeLogDirs, end offsets from ListOffsets, reassignments from
ListPartitionReassignments, all read by `kafka.reader.read_load` in requests per broker, not per
partition (one DescribeLogDirs per broker, one ListOffsets per leader, one Metadata). Between two
readings, a leader's message rate is the end-offset delta over the time between the two ListOffsets
requests, and its bytes-in rate the size delta over the time between the leader's two
DescribeLogDirs answers; when the size shrank (retention deleted a segment) bytes in is the message
delta times the partition's last seen bytes per message. Consumer bytes out is invisible here (left
empty).
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_load
from kafka_medic.kafka.state import ClusterState, PartitionState
from kafka_medic.metrics.sample import BrokerSample, PartitionSample

SOURCE = "admin"


@dataclass(frozen=True)
class _Reading:
    size_at: float  # time.monotonic() of the size's and the offset's readings
    size: int
    offset_at: float
    end_offset: int


class AdminSampler:
    source = SOURCE

    def __init__(self, config: ClusterConfig, known_brokers: dict[int, str | None] | None = None) -> None:
        self.config = config
        self.known_brokers = dict(known_brokers or {})
        self._previous: dict[tuple[str, int], _Reading] = {}
        self._bytes_per_message: dict[tuple[str, int], float] = {}
        self.latest: dict[tuple[str, int], PartitionSample] = {}  # leader rows of the last round
        self.latest_state: ClusterState | None = None

    def sample(self, ts: float) -> tuple[list[BrokerSample], list[PartitionSample]]:
        reading = read_load(self.config, self.known_brokers)
        state, offsets, offsets_at = reading.state, reading.end_offsets, reading.offsets_at
        self.known_brokers.update({b.id: b.rack for b in state.brokers.values()})
        partitions, led_in, followed_in = (
            [],
            dict.fromkeys(state.brokers, 0.0),
            dict.fromkeys(state.brokers, 0.0),
        )
        for p in state.partitions:
            rates = self._rates(state, p, offsets.get((p.topic, p.partition)), offsets_at)
            for broker, size in sorted(p.sizes.items()):
                leader = broker == p.leader
                partitions.append(
                    PartitionSample(
                        ts=ts, topic=p.topic, partition=p.partition, broker=broker, source=SOURCE,
                        leader=leader, reassigning=p.reassigning, size=float(size),
                        **(rates if leader and rates else {}),
                    )
                )  # fmt: skip
            if rates and p.leader is not None:
                led_in[p.leader] += rates["bytes_in"]
                for follower in p.replicas:
                    if follower != p.leader and follower in followed_in:
                        followed_in[follower] += rates["bytes_in"]
        rated = any(s.bytes_in is not None for s in partitions)
        brokers = [
            BrokerSample(
                ts=ts, broker=b.id, source=SOURCE, alive=b.alive,
                bytes_in=led_in[b.id] if b.alive and rated else None,
                replication_bytes_in=followed_in[b.id] if b.alive and rated else None,
            )
            for b in state.brokers.values()
        ]  # fmt: skip
        self.latest = {(s.topic, s.partition): s for s in partitions if s.leader}
        self.latest_state = state
        return brokers, partitions

    @property
    def cluster_id(self) -> str | None:
        """The id the cluster reported in the last round (the JMX and Prometheus samplers use it too)."""
        return self.latest_state.cluster_id if self.latest_state else None

    def _rates(
        self, state: ClusterState, p: PartitionState, end_offset: int | None, offset_at: float
    ) -> dict[str, float] | None:
        key = (p.topic, p.partition)
        size_at = state.brokers[p.leader].sizes_read_at if p.leader in state.brokers else None
        if end_offset is None or p.leader not in p.sizes or size_at is None:
            self._previous.pop(key, None)
            return None
        reading = _Reading(size_at, p.sizes[p.leader], offset_at, end_offset)
        before, self._previous[key] = self._previous.get(key), reading
        if before is None or reading.size_at <= before.size_at or reading.offset_at <= before.offset_at:
            return None
        messages = max(reading.end_offset - before.end_offset, 0)
        grown: float = reading.size - before.size
        if grown >= 0 and messages:
            self._bytes_per_message[key] = grown / messages
        if grown < 0:
            if key not in self._bytes_per_message:
                return None
            grown = messages * self._bytes_per_message[key]
        return {
            "bytes_in": grown / (reading.size_at - before.size_at),
            "messages_in": messages / (reading.offset_at - before.offset_at),
        }
