"""What every fault scenario does around its fault: a topic to move under an acks=all producer, the
check that every acknowledged message is still there, and the throttles left on the cluster."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kafka_medic.devcluster import DevCluster
from kafka_medic.devcluster.cluster import _process
from kafka_medic.devcluster.processes import kill
from kafka_medic.executor import Journal
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.model import save_proposal

from ..integration.executor_helpers import (
    CheckedProducer,
    consume_values,
    no_reassignments,
    partitions_of,
    placed_topic,
    proposal,
)


def moves_onto(cluster: DevCluster, topic: str, tmp_path: Path, target: int, partitions: int = 4,
               mb: float = 12) -> tuple[dict, Path]:
    """A topic of `partitions` partitions, 3 replicas on the brokers other than `target`, min ISR 2, and a
    proposal moving one replica of each onto `target`: the fault hits the copies this starts."""
    others = [b for b in cluster.broker_ids if b != target]
    assignment = [others[p % len(others):] + others[:p % len(others)] for p in range(partitions)]
    placed_topic(cluster.bootstrap, topic, [a[:3] for a in assignment], mb=mb, min_isr=2)
    moves = {p: (a[:3], [*a[:2], target]) for p, a in enumerate(assignment)}
    path = tmp_path / f"{topic}.json"
    save_proposal(proposal(topic, topic, moves), path)
    return moves, path


def lost_messages(bootstrap: str, topic: str, producer: CheckedProducer, partitions: int) -> int:
    """Acknowledged values the topic no longer holds (read from the beginning, after the fault)."""
    assert producer.acked, f"the producer had nothing acknowledged ({producer.errors[:3]})"
    return len(set(producer.acked) - set(consume_values(bootstrap, topic, list(range(partitions)))))


def throttles_left(config: ClusterConfig) -> int:
    """Throttle configs (rates and replica lists) left on any broker or topic of the cluster."""
    throttles = read_cluster_state(config).throttles()
    return sum(len(v) for v in throttles["brokers"].values()) + sum(len(v) for v in throttles["topics"].values())


def throttles_kept(journal: Journal, execution_id: str) -> int:
    """Throttle configs the journal says the execution could not clear (on a broker it could not reach)."""
    return sum(not r.cleared for r in journal.throttles(execution_id))


def assert_stopped_by_dead_destination(config: ClusterConfig, topic: str, moves: dict, code: int, log: str,
                                       execution, kept: int, lost: int) -> None:
    """How a fault that takes the destination broker away must end: the executor exits 1 naming broker 4
    dead, the journal keeps the throttle it could not clear there, nothing acknowledged is lost, and
    every move is rolled back with no reassignment left."""
    assert code == 1, log
    assert execution.status == "failed" and "destination broker(s) [4] died" in execution.message, log
    assert kept, "the journal does not say that the lost destination kept its throttle"
    assert lost == 0
    parts = partitions_of(config, topic)
    replicas = {p: parts[p].replicas for p in moves}
    assert all(replicas[p] == old for p, (old, _) in moves.items()), f"not rolled back: {replicas}\n{log}"
    assert no_reassignments(config)


def kill_controller(cluster: DevCluster) -> None:
    """SIGKILL the KRaft controller (the cluster has one, so it is the active one)."""
    [node] = cluster.state.servers
    proc = _process(node)
    assert proc is not None, "the controller is not running"
    kill([proc])


@contextmanager
def data_dir_on_tmpfs(cluster: DevCluster, broker: int, size_mb: int) -> Iterator[Path]:
    """Broker `broker` restarted with its data dir (its one log dir and its metadata) on a tmpfs of
    `size_mb` MB, as on a small disk; afterwards its data goes back to the real disk and it restarts there.
    Yields the mount point.

    Copies keep files sparse: Kafka preallocates each active segment's indexes (10 MB each, sparse), which
    a plain copy would write out in full. The data goes back over the copy it started from, so a file the
    broker could not rewrite on the full disk is still there when it restarts."""
    path = cluster.layout.data(cluster.state.broker(broker))
    saved = path.with_name(path.name + ".saved")
    cluster.kill_broker(broker)
    path.rename(saved)
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)], check=True)
    try:
        _copy(saved, path)
        cluster.start_broker(broker)
        yield path
    finally:
        cluster.kill_broker(broker)
        _copy(path, saved)
        subprocess.run(["umount", str(path)], check=True)
        path.rmdir()
        saved.rename(path)
        cluster.start_broker(broker)


def _copy(source: Path, target: Path) -> None:
    """Everything in `source` into `target` (over what is there), sparse files kept sparse."""
    subprocess.run(["cp", "-a", "--sparse=always", f"{source}/.", str(target)], check=True)
