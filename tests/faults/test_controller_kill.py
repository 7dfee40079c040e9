"""The KRaft controller killed mid-move: the execution waits for it and finishes once it is back."""

from __future__ import annotations

import time

from kafka_medic.executor import Journal
from kafka_medic.kafka.config import ClusterConfig

from ..integration.executor_helpers import CheckedProducer, Executor, no_reassignments, partitions_of
from .faults import kill_controller, lost_messages, moves_onto, throttles_left

OUTAGE_S = 20  # the controller's outage: longer than a poll, shorter than the executor's read patience


def test_controller_killed_mid_move_resumes_and_finishes(whole_cluster, tmp_path, record):
    record.fault = "the only (so active) KRaft controller SIGKILLed mid-move, restarted 20 s later (OUTAGE_S)"
    bootstrap, topic = whole_cluster.bootstrap, "fault-controller"
    moves, path = moves_onto(whole_cluster, topic, tmp_path, target=4)
    config = ClusterConfig(bootstrap, name=topic)
    with CheckedProducer(bootstrap, topic) as producer:
        run = Executor(tmp_path, "execute", "--bootstrap", bootstrap, "--cluster", topic, "--proposal", str(path),
                       "--throttle", "1", "--concurrency", "4")
        run.wait_for_line("batch 1: submitted")
        run.wait_for_line("MB (")
        kill_controller(whole_cluster)
        time.sleep(OUTAGE_S)  # the fault's length, not a wait for something
        whole_cluster.up()
        code = run.wait(300)
    log = "".join(run.lines)
    record.acked = len(producer.acked)
    record.lost = lost_messages(bootstrap, topic, producer, len(moves))
    record.throttles_left = throttles_left(config)
    [execution] = Journal(f"sqlite:///{tmp_path / 'metrics.db'}").list(topic)
    record.outcome = f"exit {code}, execution {execution.status}"
    assert code == 0, log
    assert execution.status == "succeeded"
    assert record.lost == 0 and record.throttles_left == 0
    parts = partitions_of(config, topic)
    assert all(parts[p].replicas == new for p, (_, new) in moves.items())
    assert no_reassignments(config)
