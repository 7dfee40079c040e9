"""Stopping: roll back what is in flight and start nothing new (throttles are the teardown's job).

Rolling back is a cancel through AlterPartitionReassignments: the controller reverts each partition
to its original replicas and drops the partial copies. A move that finished before the cancel
arrived stays finished and is reported done.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka_medic.executor import journal as j
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.submit import cancel_reassignments, restore_order
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state

ROLLBACK_WAIT_S = 60.0


def abort(config: ClusterConfig, journal: Journal, execution_id: str, reason: str,
          log: Callable[[str], None] = print) -> None:
    """Cancel every in-flight move of the execution and record why; pending moves stay not started."""
    journal.heartbeat(execution_id, phase="aborting", message=reason)
    log(f"stopping: {reason}")
    in_flight = [r for r in journal.tasks(execution_id) if r.state in (j.SUBMITTED, j.DEAD)]
    if in_flight:
        keys = [r.task.key for r in in_flight]
        errors = cancel_reassignments(config, keys)
        deadline = time.monotonic() + ROLLBACK_WAIT_S
        while True:
            state = read_cluster_state(config)
            partitions = {(p.topic, p.partition): p for p in state.partitions}
            moving = [k for k in keys if k in partitions and partitions[k].reassigning]
            if not moving or time.monotonic() > deadline:
                break
            time.sleep(1)
        _restore_order(config, in_flight, partitions, log)
        for r in in_flight:
            p = partitions.get(r.task.key)
            if r.task.name in errors:
                journal.set_task_state(execution_id, r.task, j.FAILED, f"could not roll back: {errors[r.task.name]}")
            elif p is not None and not p.reassigning and list(p.replicas) == list(r.task.new_replicas):
                journal.set_task_state(execution_id, r.task, j.DONE)
            elif r.state == j.DEAD:
                journal.set_task_state(execution_id, r.task, j.DEAD, f"{r.reason}; rolled back")
            else:
                journal.set_task_state(execution_id, r.task, j.CANCELLED, f"rolled back: {reason}")
        rolled = [r.task.name for r in in_flight if r.task.name not in errors]
        log(f"rolled back {len(rolled)} in-flight moves: {', '.join(rolled)}"
            + (f"; could not roll back: {errors}" if errors else ""))
    journal.heartbeat(execution_id, phase="aborted", message=reason)


def _restore_order(config: ClusterConfig, records, partitions: dict, log: Callable[[str], None]) -> None:
    reorder = {
        r.task.key: list(r.task.old_replicas) for r in records
        if (p := partitions.get(r.task.key)) is not None and not p.reassigning
        and sorted(p.replicas) == sorted(r.task.old_replicas) and list(p.replicas) != list(r.task.old_replicas)
    }
    if not reorder:
        return
    errors = restore_order(config, reorder)
    if errors:
        log(f"WARNING could not restore the replica order of {errors}")
    waiting = {k: v for k, v in reorder.items() if f"{k[0]}-{k[1]}" not in errors}
    deadline = time.monotonic() + ROLLBACK_WAIT_S
    while waiting and time.monotonic() < deadline:
        time.sleep(0.5)
        current = {(p.topic, p.partition): p for p in read_cluster_state(config).partitions}
        partitions.update(current)
        waiting = {k: v for k, v in waiting.items() if k in current and list(current[k].replicas) != v}
