"""Progress and stalls: a move progresses while its gap to the leader closes, not merely while it copies."""

from __future__ import annotations

from kafka_medic.executor.journal import SUBMITTED, TaskRecord
from kafka_medic.executor.progress import ProgressMeter, gap_bytes
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.kafka.state import ClusterState, PartitionState
from kafka_medic.units import MB

TASK = Task("t", 0, REPLICA, (1, 2), (1, 3), 1, 1, 10 * MB)
RECORDS = [TaskRecord(TASK, SUBMITTED, None, 1, 1, 0.0, None)]


def state(leader_size: int, copied: int | None) -> ClusterState:
    sizes = {1: leader_size, 2: leader_size} | ({} if copied is None else {3: copied})
    p = PartitionState("t", 0, [1, 2, 3], 1, [1, 2], sizes=sizes, adding_replicas=[3], removing_replicas=[2])
    return ClusterState(cluster_id="c", controller_id=1, brokers={}, partitions=[p], topic_configs={},
                        broker_configs={}, taken_at="", mode="kraft")


def test_the_gap_is_what_new_replicas_lack_against_the_leader():
    assert gap_bytes(TASK, state(10 * MB, 4 * MB).partitions[0]) == 6 * MB
    assert gap_bytes(TASK, state(10 * MB, None).partitions[0]) == 10 * MB  # not created yet: lacks everything
    unknown = state(10 * MB, 4 * MB).partitions[0]
    unknown.sizes.pop(1)
    assert gap_bytes(TASK, unknown) is None


def test_copying_slower_than_producers_write_is_a_stall():
    meter = ProgressMeter()
    meter.measure(RECORDS, state(10 * MB, 1 * MB), 1, now=100.0)
    meter.measure(RECORDS, state(11 * MB, 3 * MB), 1, now=105.0)  # gap 9 -> 8 MB: progress
    assert meter.idle_for(TASK, 105.0) == 0.0
    for now, leader, copied in ((110.0, 13, 4), (115.0, 15, 6), (120.0, 17, 8)):  # copies 2 MB/5 s, gap grows
        meter.measure(RECORDS, state(leader * MB, copied * MB), 1, now=now)
    assert meter.idle_for(TASK, 120.0) == 15.0
    assert meter.gap_line(TASK) == "new replicas 9.0 MB behind the leader, at best 8.0 MB"
    meter.mark_alerted(TASK)
    meter.measure(RECORDS, state(17 * MB, 12 * MB), 1, now=125.0)  # caught up a lot: moving again
    assert meter.idle_for(TASK, 125.0) == 0.0 and not meter.alerted(TASK)

