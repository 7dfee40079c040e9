"""The destination broker's disk fills mid-move: the broker stops (its only log dir failed), the executor
stops the execution in bounded time and says why, nothing acknowledged is lost, and the throttle it could
not clear on the dead broker is put back by the next execution once the broker is back."""

from __future__ import annotations

import shutil

from kafka_medic.executor import Journal
from kafka_medic.kafka.config import ClusterConfig

from ..integration.executor_helpers import CheckedProducer, Executor, partitions_of
from .faults import (
    assert_stopped_by_dead_destination,
    data_dir_on_tmpfs,
    lost_messages,
    moves_onto,
    throttles_kept,
    throttles_left,
)

TMPFS_MB = 64
FREE_MB = 16  # left free on the tmpfs (the rest is ballast, as other data on a nearly full disk)
# Onto it: 4 partitions of 20 MB, so no single move fits and none can finish before the disk is full
# (with 8 MB partitions, a move that outran the others finished and rightly stayed done: CI).
MOVE_MB = 80


def test_destination_disk_fills_mid_move(whole_cluster, tmp_path, record):
    record.fault = f"destination broker 4's log dir on a {TMPFS_MB} MB tmpfs with {FREE_MB} MB free, {MOVE_MB} MB moved"
    bootstrap, topic = whole_cluster.bootstrap, "fault-disk"
    moves, path = moves_onto(whole_cluster, topic, tmp_path, target=4, mb=MOVE_MB)
    config = ClusterConfig(bootstrap, name=topic)
    args = ["execute", "--bootstrap", bootstrap, "--cluster", topic, "--proposal", str(path), "--throttle", "5",
            "--concurrency", "4"]
    with data_dir_on_tmpfs(whole_cluster, 4, TMPFS_MB) as disk, CheckedProducer(bootstrap, topic) as producer:
        free = shutil.disk_usage(disk).free // 2**20
        with open(disk / "ballast", "wb") as ballast:
            ballast.truncate(0)
            ballast.write(b"\0" * ((free - FREE_MB) * 2**20))
        run = Executor(tmp_path, *args)
        code = run.wait(300)
    log = "".join(run.lines)
    journal = Journal(f"sqlite:///{tmp_path / 'metrics.db'}")
    [execution] = journal.list(topic)
    record.acked = len(producer.acked)
    record.lost = lost_messages(bootstrap, topic, producer, len(moves))
    kept = throttles_kept(journal, execution.id)
    record.outcome = f"exit {code}, execution {execution.status}: {execution.message}"
    assert_stopped_by_dead_destination(config, topic, moves, code, log, execution, kept, record.lost)

    # Broker 4 is back on a real disk: the next execution puts back the rate it kept, and does the moves.
    again = Executor(tmp_path, *args)
    assert again.wait(300) == 0, "".join(again.lines)
    assert "clearing the throttles execution" in "".join(again.lines)
    record.throttles_left = throttles_left(config)
    record.outcome += f"; {kept} throttle configs kept for the dead broker, cleared by the rerun (which moved all)"
    assert record.throttles_left == 0
    parts = partitions_of(config, topic)
    assert all(parts[p].replicas == new for p, (_, new) in moves.items())
