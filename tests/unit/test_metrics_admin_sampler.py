"""The Admin API sampler's rates: each delta over the time between its own two readings."""

from __future__ import annotations

from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.state import BrokerState, ClusterState, PartitionState
from kafka_medic.metrics.admin_sampler import AdminSampler


def state(size: int, sizes_read_at: float | None) -> ClusterState:
    partition = PartitionState("orders", 0, replicas=[1, 2], leader=1, isr=[1, 2], sizes={1: size, 2: size})
    brokers = {b: BrokerState(b, None, None, None, True, sizes_read_at=sizes_read_at) for b in (1, 2)}
    return ClusterState("c", 1, brokers, [partition], {}, {}, "")


def test_sizes_and_offsets_are_timed_apart():
    """Reading the state took 3 s longer the second time: bytes in is not off by those 3 s."""
    admin = AdminSampler(ClusterConfig(bootstrap="127.0.0.1:9"))
    first = state(1_000, sizes_read_at=100.0)
    assert admin._rates(first, first.partitions[0], end_offset=10, offset_at=101.0) is None
    second = state(11_000, sizes_read_at=110.0)
    rates = admin._rates(second, second.partitions[0], end_offset=110, offset_at=114.0)
    assert rates == {"bytes_in": 1_000.0, "messages_in": 100 / 13}


def test_a_leader_whose_sizes_were_not_read_gives_no_rate_and_starts_afresh():
    admin = AdminSampler(ClusterConfig(bootstrap="127.0.0.1:9"))
    for at, size_at in ((0.0, 0.0), (10.0, None), (20.0, 20.0)):
        s = state(int(at) * 100, sizes_read_at=size_at)
        assert admin._rates(s, s.partitions[0], end_offset=int(at), offset_at=at) is None
    s = state(3_000, sizes_read_at=30.0)
    assert admin._rates(s, s.partitions[0], end_offset=30, offset_at=30.0) == {"bytes_in": 100.0, "messages_in": 1.0}
