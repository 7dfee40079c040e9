"""The executor on a ZooKeeper-mode cluster (Kafka 3.9 + ZooKeeper): both submission paths, end to end and stopped.

Kafka 3.9 brokers in ZooKeeper mode take AlterPartitionReassignments, so the executor submits and
cancels through it (`zk_submission="auto"`). The legacy /admin/reassign_partitions znode, kafka-medic's
path on pre-2.4 clusters, is forced with `zk_submission="znode"`: one batch at a time, and a stop lets
the moves in flight finish (they cannot be cancelled there) instead of rolling them back.
"""

from __future__ import annotations

import threading

import pytest

from kafka_medic.executor import ExecutionOptions, Journal, execute, stop
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.zookeeper import legacy_reassignment_pending
from kafka_medic.units import MB

from .executor_helpers import no_reassignments, our_throttles, partitions_of, placed_topic, proposal, temp_journal
from .kafka_helpers import wait_for

pytestmark = pytest.mark.zk


@pytest.fixture
def journal(tmp_path):
    yield from temp_journal(tmp_path)


def zk_config(cluster, name: str) -> ClusterConfig:
    return ClusterConfig(cluster.bootstrap, name=name, zookeeper=cluster.zookeeper_connect)


def onto_broker_3(bootstrap: str, topic: str, partitions: int, mb: float) -> dict:
    """A topic on brokers 1-2 and moves putting one replica of every partition on broker 3."""
    assignment = [[1, 2], [2, 1]] * (partitions // 2)
    placed_topic(bootstrap, topic, assignment, mb=mb)
    return {p: (r, [r[0], 3]) if p % 2 else (r, [3, r[1]]) for p, r in enumerate(assignment)}


def assert_clean(config: ClusterConfig, topic: str) -> None:
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
    assert no_reassignments(config)
    assert not legacy_reassignment_pending(config.zookeeper)


def execute_and_stop(cluster, journal: Journal, topic: str, mb: float, options: ExecutionOptions):
    """Execute moves onto broker 3 and run `kafka-medic stop` (its own journal connection) once batch 1 is in."""
    moves = onto_broker_3(cluster.bootstrap, topic, partitions=4, mb=mb)
    config = zk_config(cluster, topic)
    lines: list[str] = []

    def stop_after_batch_1() -> None:
        wait_for(lambda: any(line.startswith("batch 1: submitted") for line in lines), 120, "batch 1")
        with Journal(journal.url) as other:
            stop(config, other, wait_s=300, log=lambda line: None)

    stopper = threading.Thread(target=stop_after_batch_1, daemon=True)
    stopper.start()
    report = execute(config, proposal(topic, topic, moves), options, journal, lines.append)
    stopper.join(60)
    assert report["status"] == "stopped" and report["message"] == "stop requested", lines
    return config, moves, report, lines


@pytest.mark.parametrize("submission", ["auto", "znode"])
def test_zk_mode_execution_ends_exactly_as_proposed(healthy_zk_cluster, journal, submission):
    bootstrap = healthy_zk_cluster.bootstrap
    topic = f"zk-ex-{submission}"
    moves = onto_broker_3(bootstrap, topic, partitions=4, mb=4)
    config = zk_config(healthy_zk_cluster, topic)
    lines: list[str] = []
    options = ExecutionOptions(throttle=4 * MB, concurrency=2, zk_submission=submission, poll_interval_s=0.5)
    report = execute(config, proposal(topic, topic, moves), options, journal, lines.append)
    assert report["status"] == "succeeded", lines
    path = "/admin/reassign_partitions" if submission == "znode" else "AlterPartitionReassignments"
    assert any(f"submitting through {path}" in line for line in lines), lines
    parts = partitions_of(config, topic)
    for p, (_, new) in moves.items():
        assert parts[p].replicas == new and parts[p].leader == new[0] and sorted(parts[p].isr) == sorted(new)
    assert sorted(report["done"]) == sorted(f"{topic}-{p}" for p in moves) and not report["undone"]
    assert set(report["submissions"].values()) == {1}
    # Concurrency 2 on broker 3: at least two batches, each submitted once the one before it left room.
    assert any(line.startswith("batch 2: submitted") for line in lines), lines
    assert_clean(config, topic)


def test_zk_mode_stop_rolls_back_through_the_api(healthy_zk_cluster, journal):
    topic = "zk-ex-stop"
    options = ExecutionOptions(throttle=0.2 * MB, concurrency=2, poll_interval_s=0.5)
    config, moves, report, lines = execute_and_stop(healthy_zk_cluster, journal, topic, 8, options)
    assert any(line.startswith("rolled back 2 in-flight moves") for line in lines), lines
    undone = {u["partition"]: u for u in report["undone"]}
    assert not report["done"] and len(undone) == len(moves)
    assert sorted(u["state"] for u in undone.values()) == ["cancelled", "cancelled", "pending", "pending"]
    parts = partitions_of(config, topic)
    assert all(parts[p].replicas == old for p, (old, _) in moves.items()), parts  # rolled back exactly
    wait_for(lambda: not any(3 in p.sizes for p in partitions_of(config, topic).values()), 60,
             "broker 3 to drop the partial copies")
    assert_clean(config, topic)


def test_zk_znode_stop_lets_the_moves_in_flight_finish(healthy_zk_cluster, journal):
    """On the znode path nothing can be cancelled: stop finishes what is in flight and starts nothing new."""
    topic = "zk-ex-znode-stop"
    options = ExecutionOptions(throttle=0.5 * MB, concurrency=2, zk_submission="znode", poll_interval_s=0.5)
    config, moves, report, lines = execute_and_stop(healthy_zk_cluster, journal, topic, 16, options)
    assert any("cannot cancel a reassignment" in line for line in lines), lines
    first_batch = [name for line in lines if line.startswith("batch 1: submitted")
                   for name in (f"{topic}-{p}" for p in moves) if f"{name} [" in line]
    assert len(first_batch) == 2
    assert sorted(report["done"]) == sorted(first_batch), lines  # finished, not rolled back
    assert {u["state"] for u in report["undone"]} == {"pending"} and len(report["undone"]) == 2
    parts = partitions_of(config, topic)
    for p, (old, new) in moves.items():
        assert parts[p].replicas == (new if f"{topic}-{p}" in first_batch else old)
    assert_clean(config, topic)
