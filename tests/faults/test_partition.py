"""Broker 4, the destination of throttled moves, cut off from every other node and client mid-move by
its own network namespace's link going down.

The controller fences it; the executor sees its destination dead, stops in bounded time, rolls the
moves back and clears every throttle it can reach. Once the link is up again the broker rejoins, and the
next execution puts back the throttle rate left on it and carries the moves out.
"""

from __future__ import annotations

import time

from kafka_medic.executor import Journal
from kafka_medic.kafka.config import ClusterConfig

from ..integration.executor_helpers import (
    CheckedProducer,
    Executor,
    broker_alive,
    partitions_of,
)
from ..integration.kafka_helpers import wait_for
from .faults import assert_stopped_by_dead_destination, lost_messages, moves_onto, throttles_kept, throttles_left

STOP_BOUND_S = 120  # from the partition to the executor's exit: fencing (~10 s) plus rollback
# 7.5 MB a partition: at 1 MB/s the copy outlasts the ~10 MB that Kafka's empty quota window lets through at
# once (bench/README.md, session 14), so the cut lands mid-move; 12 MB could all arrive before it
MOVE_MB = 30


def test_destination_partitioned_mid_move(whole_cluster, broker_4_namespace, tmp_path, record):
    record.fault = "destination broker 4 cut off (its netns link down) mid-move, joined again after the stop"
    bootstrap, topic = whole_cluster.bootstrap, "fault-partition"
    moves, path = moves_onto(whole_cluster, topic, tmp_path, target=4, mb=MOVE_MB)
    config = ClusterConfig(bootstrap, name=topic)
    args = ["execute", "--bootstrap", bootstrap, "--cluster", topic, "--proposal", str(path), "--throttle", "1",
            "--concurrency", "4"]
    with CheckedProducer(bootstrap, topic) as producer:
        run = Executor(tmp_path, *args)
        run.wait_for_line("batch 1: submitted")  # in flight: the controller took them
        broker_4_namespace.partition()
        cut_at = time.monotonic()
        try:
            code = run.wait(STOP_BOUND_S)
        finally:
            stopped_in = time.monotonic() - cut_at
            broker_4_namespace.heal()
    log = "".join(run.lines)
    journal = Journal(f"sqlite:///{tmp_path / 'metrics.db'}")
    [execution] = journal.list(topic)
    kept = throttles_kept(journal, execution.id)
    record.acked = len(producer.acked)
    record.lost = lost_messages(bootstrap, topic, producer, len(moves))
    record.outcome = (f"exit {code} {stopped_in:.0f} s after the cut, execution {execution.status}: "
                      f"{execution.message}; {kept} throttle configs kept for the cut-off broker")
    assert_stopped_by_dead_destination(config, topic, moves, code, log, execution, kept, record.lost)

    wait_for(lambda: broker_alive(config, 4), 120, "broker 4 to rejoin")
    again = Executor(tmp_path, *args)
    assert again.wait(300) == 0, "".join(again.lines)
    assert "clearing the throttles execution" in "".join(again.lines)
    record.throttles_left = throttles_left(config)
    record.outcome += "; cleared by the rerun, which moved everything"
    assert record.throttles_left == 0
    parts = partitions_of(config, topic)
    assert all(parts[p].replicas == new for p, (_, new) in moves.items())
