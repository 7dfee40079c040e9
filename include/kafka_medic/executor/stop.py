"""Stopping: roll back what is in flight and start nothing new (throttles are the teardown's job).

Rolling back is a cancel through AlterPartitionReassignments (KRaft, and ZooKeeper mode since Kafka
2.4, also for moves submitted through the znode): the controller reverts each partition to its
original replicas and drops the partial copies. A move that finished before the cancel arrived
stays finished and is reported done.

Without that API (the legacy znode path) nothing can be cancelled safely: deleting
/admin/reassign_partitions leaves the controller's in-flight moves half done. Nor is a reverse
reassignment written afterwards: it would copy the same data back onto the old replicas, doubling
the data moved and the time under throttle, to reach a state no safer than the finished move (each
move of a proposal is valid on its own). So there, stop lets the moves in flight finish (they are
reported done), starts nothing new, and reports a move it could not wait out as still in flight.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kafka_medic.executor import journal as j
from kafka_medic.executor.submit import cancel_reassignments, read_state, restore_order, uses_znode

if TYPE_CHECKING:
    from kafka_medic.executor.execution import Execution

ROLLBACK_WAIT_S = 60.0
IN_FLIGHT = (j.SUBMITTING, j.SUBMITTED, j.DEAD, j.TIMED_OUT)


def abort(execution: Execution, reason: str) -> None:
    """Cancel every in-flight move of the execution and record why; pending moves stay not started."""
    execution.heartbeat(phase="aborting", message=reason)
    execution.log(f"stopping: {reason}")
    in_flight = [r for r in execution.tasks() if r.state in IN_FLIGHT]
    if in_flight and uses_znode(execution.config, execution.record().options):
        _let_finish(execution, in_flight)
    elif in_flight:
        _roll_back(execution, in_flight, reason)
    execution.heartbeat(phase="aborted", message=reason)


def _roll_back(execution: Execution, in_flight, reason: str) -> None:
    config = execution.config
    keys = [r.task.key for r in in_flight]
    errors = cancel_reassignments(config, keys)
    deadline = time.monotonic() + ROLLBACK_WAIT_S
    topics = {t for t, _ in keys}
    tasks = {r.task.key: r.task for r in in_flight}
    while True:
        state = read_state(config, topics=topics)
        partitions = dict(state.by_key)  # a copy: `_restore_order` brings it up to date
        moving = [k for k in keys if k in partitions and not _settled(partitions[k], tasks[k])]
        if not moving or time.monotonic() > deadline:
            break
        time.sleep(1)
    _restore_order(execution, in_flight, partitions)
    for r in in_flight:
        p = partitions.get(r.task.key)
        if r.task.name in errors:
            execution.set_task_state(r.task, j.FAILED, f"could not roll back: {errors[r.task.name]}")
        elif p is not None and not p.reassigning and list(p.replicas) == list(r.task.new_replicas):
            execution.set_task_state(r.task, j.DONE)
        elif r.state in (j.DEAD, j.TIMED_OUT):
            execution.set_task_state(r.task, r.state, f"{r.reason}; rolled back")
        else:
            execution.set_task_state(r.task, j.CANCELLED, f"rolled back: {reason}")
    rolled = [r.task.name for r in in_flight if r.task.name not in errors]
    execution.log(f"rolled back {len(rolled)} in-flight moves: {', '.join(rolled)}"
                  + (f"; could not roll back: {errors}" if errors else ""))


def _settled(p, task) -> bool:
    """The controller lists no reassignment and the metadata shows the old or the new replica set.

    Replicas come from a broker's copy of the metadata, which can lag the controller: just after a cancel
    it may still show the merged list of the move, and the order restored from that read would be lost
    when the copy catches up with the controller's revert."""
    return not p.reassigning and set(p.replicas) in (set(task.old_replicas), set(task.new_replicas))


def _let_finish(execution: Execution, in_flight) -> None:
    """The znode path: wait for the moves in flight to finish, as far as they can and within their timeout."""
    config = execution.config
    options = execution.record().options
    names = ", ".join(r.task.name for r in in_flight)
    execution.log(f"the cluster cannot cancel a reassignment (no AlterPartitionReassignments): letting {names} finish")
    wait_s = max(options.timeout_for(r.task.bytes_to_move, options.throttle) for r in in_flight)
    deadline = time.monotonic() + wait_s
    topics = {r.task.topic for r in in_flight}
    while True:
        execution.heartbeat()
        state = read_state(config, topics=topics)
        partitions = state.by_key
        alive = set(state.alive_brokers)
        moving = [r for r in in_flight if (p := partitions.get(r.task.key)) is not None and p.reassigning]
        stuck = [r for r in moving if any(b not in alive for b in r.task.added)]
        if not moving or len(stuck) == len(moving) or time.monotonic() > deadline:
            break
        time.sleep(options.poll_interval_s)
    for r in in_flight:
        p = partitions.get(r.task.key)
        if p is not None and not p.reassigning and list(p.replicas) == list(r.task.new_replicas):
            execution.set_task_state(r.task, j.DONE)
            execution.log(f"done {r.task.name} -> {list(r.task.new_replicas)} (let finish: it could not be cancelled)")
        else:
            why = "its destination is down" if r in stuck else f"not finished after {wait_s:.0f}s"
            state_now = r.state if r.state in (j.DEAD, j.TIMED_OUT) else j.FAILED
            execution.set_task_state(r.task, state_now,
                                     f"{r.reason + '; ' if r.reason else ''}still in flight ({why}): a ZooKeeper "
                                     "reassignment without AlterPartitionReassignments cannot be cancelled")


def _restore_order(execution: Execution, records, partitions: dict) -> None:
    config = execution.config
    reorder = {
        r.task.key: list(r.task.old_replicas) for r in records
        if (p := partitions.get(r.task.key)) is not None and not p.reassigning
        and sorted(p.replicas) == sorted(r.task.old_replicas) and list(p.replicas) != list(r.task.old_replicas)
    }
    if not reorder:
        return
    errors = restore_order(config, reorder)
    if errors:
        execution.log(f"WARNING could not restore the replica order of {errors}")
    waiting = {k: v for k, v in reorder.items() if f"{k[0]}-{k[1]}" not in errors}
    deadline = time.monotonic() + ROLLBACK_WAIT_S
    while waiting and time.monotonic() < deadline:
        time.sleep(0.5)
        current = read_state(config, topics={t for t, _ in waiting}).by_key
        partitions.update(current)
        waiting = {k: v for k, v in waiting.items() if k in current and list(current[k].replicas) != v}
