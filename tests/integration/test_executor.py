"""The executor against real KRaft brokers: rebalance with live traffic, heal, dead destination, journal."""

from __future__ import annotations

import pytest

from kafka_medic.executor import ExecutionOptions, Journal, execute, tasks_for
from kafka_medic.executor.steps import clear_throttles
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state

from .executor_helpers import (
    CheckedProducer,
    broker_alive,
    checksum,
    consume_values,
    no_reassignments,
    our_throttles,
    partitions_of,
    placed_topic,
    proposal,
)
from .kafka_helpers import wait_for

pytestmark = pytest.mark.kafka
MB = 1024 * 1024


@pytest.fixture
def journal(tmp_path):
    journal = Journal(f"sqlite:///{tmp_path / 'store.db'}")
    yield journal
    journal.close()


def test_rebalance_a_skewed_cluster_with_traffic(healthy_kraft_cluster, journal):
    """Broker 4 starts empty; afterwards the cluster is exactly as proposed and no acked message is lost."""
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-rebalance"
    placed_topic(bootstrap, topic, [[1, 2, 3], [2, 3, 1], [3, 1, 2]] * 3, mb=18, min_isr=2)
    config = ClusterConfig(bootstrap, name="ex-rebalance")
    moves = {0: ([1, 2, 3], [4, 2, 3]), 1: ([2, 3, 1], [2, 4, 1]), 2: ([3, 1, 2], [4, 1, 2]),
             4: ([2, 3, 1], [4, 3, 1]), 5: ([3, 1, 2], [3, 4, 2]), 6: ([1, 2, 3], [1, 2, 4])}
    plan = proposal("ex-rebalance", topic, moves)
    lines: list[str] = []
    with CheckedProducer(bootstrap, topic) as producer:
        report = execute(config, plan, ExecutionOptions(throttle=6 * MB, concurrency=2), journal, lines.append)
    assert report["status"] == "succeeded", lines
    parts = partitions_of(config, topic)
    for p, (_, new) in moves.items():
        assert parts[p].replicas == new and parts[p].leader == new[0]
    assert not [p.name for p in parts.values() if p.under_replicated]
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
    assert no_reassignments(config)
    assert sorted(report["done"]) == sorted(f"{topic}-{p}" for p in moves) and not report["undone"]
    assert set(report["submissions"].values()) == {1}
    assert any(line.startswith("batch 2: submitted") for line in lines)  # concurrency 2 on broker 4: 3+ batches
    assert not producer.errors and len(producer.acked) > 1000
    consumed = [v for v in consume_values(bootstrap, topic, list(parts)) if not v.startswith(b"x")]
    assert checksum(consumed) == checksum(producer.acked)
    # A proposal already carried out is all skipped: nothing is submitted twice.
    tasks, skipped = tasks_for(plan.moves, read_cluster_state(config))
    assert not tasks and {s.reason for s in skipped} == {"already as proposed"}


def test_heal_after_a_broker_dies(healthy_kraft_cluster, journal):
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-heal"
    assignment = [[1, 2, 4], [4, 3, 1], [2, 4, 3], [3, 1, 2]]
    placed_topic(bootstrap, topic, assignment, mb=4, min_isr=2)
    config = ClusterConfig(bootstrap, name="ex-heal")
    healthy_kraft_cluster.kill_broker(4)
    wait_for(lambda: broker_alive(config, 4) is False, 60, "broker 4 to be seen dead")
    # The plan a heal makes: each replica on the dead broker goes to a live broker that lacks one.
    moves = {p: (r, [next(b for b in (1, 2, 3) if b not in r) if b == 4 else b for b in r])
             for p, r in enumerate(assignment) if 4 in r}
    lines: list[str] = []
    report = execute(config, proposal("ex-heal", topic, moves), ExecutionOptions(throttle=20 * MB), journal,
                     lines.append)
    parts = partitions_of(config, topic)
    assert report["status"] == "succeeded", lines
    for p in parts.values():
        assert sorted(p.replicas) == [1, 2, 3] and sorted(p.isr) == [1, 2, 3], p
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}


def test_a_destination_that_dies_mid_move_stops_the_execution_cleanly(healthy_kraft_cluster, journal):
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-dead-destination"
    placed_topic(bootstrap, topic, [[1, 2], [2, 3], [3, 1], [1, 3]], mb=16)
    config = ClusterConfig(bootstrap, name="ex-dead-destination")
    moves = {0: ([1, 2], [4, 2]), 1: ([2, 3], [2, 4]), 2: ([3, 1], [3, 2])}
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("batch 1: submitted"):
            healthy_kraft_cluster.kill_broker(4)

    report = execute(config, proposal("ex-dead-destination", topic, moves),
                     ExecutionOptions(throttle=1 * MB), journal, log)
    assert report["status"] == "failed" and "destination broker(s) [4] died" in report["message"]
    undone = {u["partition"]: u for u in report["undone"]}
    assert undone[f"{topic}-0"]["state"] == "dead" and undone[f"{topic}-1"]["state"] == "dead"
    parts = partitions_of(config, topic)
    assert [parts[p].replicas for p in range(2)] == [[1, 2], [2, 3]]  # rolled back
    # The move not involving broker 4 either finished before the death was seen, or was rolled back too.
    if f"{topic}-2" in report["done"]:
        assert parts[2].replicas == [3, 2]
    else:
        assert undone[f"{topic}-2"]["state"] == "cancelled" and parts[2].replicas == [3, 1]
    assert no_reassignments(config)
    # Topic throttles are gone; broker 4's rates can only be cleared once it is back.
    assert our_throttles(config, topic)["topic"] == {}
    assert report["throttles_left"] and all(" 4 " in t for t in report["throttles_left"])
    healthy_kraft_cluster.start_broker(4)
    wait_for(lambda: broker_alive(config, 4), 60, "broker 4 to be back")
    assert clear_throttles(config, report["execution_id"], journal, lines.append) == []
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
