"""The Admin API sampler: rates from its own two readings' times, and requests per broker, not per partition."""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from types import SimpleNamespace

import pytest
from kafka.errors import KafkaConnectionError
from kafka.future import Future
from kafka.protocol.admin import DescribeLogDirsRequest
from kafka.protocol.consumer import ListOffsetsRequest

from kafka_medic.kafka import reader
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


class FakeManager:
    """kafka-python's connection manager as `kafka.fanout` uses it: answers at once, counts requests."""

    def __init__(self, admin: FakeAdmin) -> None:
        self.admin = admin

    def send(self, request, node_id):
        name = type(request).__name__.removesuffix("Request")
        self.admin.requests[name] += 1
        if node_id in self.admin.failing:
            return Future().failure(KafkaConnectionError(f"broker {node_id} refuses connections"))
        if isinstance(request, DescribeLogDirsRequest):
            assert request.topics is None  # every topic: no Metadata request to name them first
            return Future().success(self.admin.log_dirs(node_id))
        assert isinstance(request, ListOffsetsRequest)
        return Future().success(self.admin.offsets(node_id, request))

    def run(self, coroutine_function, *args):
        coroutine = coroutine_function(*args)
        try:
            coroutine.send(None)
        except StopIteration as done:
            return done.value
        raise AssertionError("a fake answer is never pending")


class FakeAdmin:
    """A cluster of `brokers` brokers and `partitions` partitions of RF 2, answering what the reader asks."""

    def __init__(self, brokers: int, partitions: int, failing: frozenset[int] = frozenset()) -> None:
        self.brokers = list(range(1, brokers + 1))
        self.replicas = {("t", p): [self.brokers[p % brokers], self.brokers[(p + 1) % brokers]]
                         for p in range(partitions)}  # fmt: skip
        self.failing = failing
        self.round = 0
        self.requests: Counter[str] = Counter()
        self._manager = FakeManager(self)

    def describe_cluster(self):
        self.requests["DescribeCluster"] += 1
        self.round += 1  # a new round: offsets and sizes grow
        brokers = [{"broker_id": b, "host": "h", "port": 9092, "rack": None} for b in self.brokers]
        return {"cluster_id": "fake", "controller_id": 1, "brokers": brokers}

    def describe_topics(self, topics=None):
        self.requests["Metadata"] += 1
        partitions = [{"partition_index": p, "leader_id": r[0], "replica_nodes": r, "isr_nodes": r}
                      for (_, p), r in self.replicas.items()]  # fmt: skip
        return [{"name": "t", "error_code": 0, "partitions": partitions}]

    def list_partition_reassignments(self):
        self.requests["ListPartitionReassignments"] += 1
        return {}

    def log_dirs(self, broker: int):
        held = [SimpleNamespace(partition_index=p, partition_size=100 * self.round * (p + 1), is_future_key=False)
                for (_, p), r in self.replicas.items() if broker in r]  # fmt: skip
        log_dir = SimpleNamespace(error_code=0, log_dir="/d", total_bytes=-1, usable_bytes=-1,
                                  topics=[SimpleNamespace(name="t", partitions=held)])  # fmt: skip
        return SimpleNamespace(results=[log_dir])

    def offsets(self, broker: int, request):
        def answer(t, p):
            return SimpleNamespace(partition_index=p, error_code=0, offset=self.round * (p + 1))

        led = [(t.name, [answer(t, p.partition_index) for p in t.partitions
                         if self.replicas[(t.name, p.partition_index)][0] == broker])  # only what it leads
               for t in request.topics]  # fmt: skip
        return SimpleNamespace(topics=[SimpleNamespace(name=name, partitions=parts) for name, parts in led])


@pytest.fixture
def fake_cluster(monkeypatch):
    def use(admin: FakeAdmin) -> AdminSampler:
        monkeypatch.setattr(reader, "admin_client", lambda config: nullcontext(admin))
        return AdminSampler(ClusterConfig(bootstrap="127.0.0.1:9"))

    return use


def test_a_round_asks_per_broker_not_per_partition(fake_cluster):
    """1,000 partitions on 10 brokers: one Metadata, one DescribeLogDirs per broker, one ListOffsets per
    leader, and no config reads, every round; the second round rates every partition."""
    admin = FakeAdmin(brokers=10, partitions=1_000)
    sampler = fake_cluster(admin)
    for _ in range(2):
        admin.requests.clear()
        brokers, partitions = sampler.sample(ts=0.0)
        assert admin.requests == {"DescribeCluster": 1, "Metadata": 1, "ListPartitionReassignments": 1,
                                  "DescribeLogDirs": 10, "ListOffsets": 10}  # fmt: skip
    assert len(partitions) == 2_000 and len(brokers) == 10
    assert sorted({s.partition for s in partitions}) == list(range(1_000))
    leaders = [s for s in partitions if s.leader]
    assert len(leaders) == 1_000 and all(s.messages_in is not None and s.bytes_in is not None for s in leaders)
    assert {(s.partition, s.broker): s.size for s in partitions} == {
        (p, b): 200.0 * (p + 1) for (_, p), replicas in admin.replicas.items() for b in replicas
    }


def test_a_broker_that_refuses_costs_only_its_own_answers(fake_cluster):
    """Broker 3 refuses connections: it is dead and its sizes and offsets are missing; the rest are whole."""
    admin = FakeAdmin(brokers=4, partitions=40, failing=frozenset({3}))
    sampler = fake_cluster(admin)
    sampler.sample(ts=0.0)
    _, partitions = sampler.sample(ts=1.0)
    assert not sampler.latest_state.brokers[3].alive and sampler.latest_state.alive_brokers == [1, 2, 4]
    assert {s.broker for s in partitions} == {1, 2, 4}
    rated = {s.partition for s in partitions if s.leader and s.messages_in is not None}
    assert rated == {p for (_, p), r in admin.replicas.items() if r[0] != 3}
