"""Moving replicas: the loop that starts moves as slots free up, follows them to the end, and stops cleanly.

Each poll reads the cluster first and brings the journal up to date from it (a move the cluster shows
finished is done, one it no longer lists was cancelled elsewhere), then submits only moves the journal
has never submitted: so a resumed loop adopts the moves a crashed one left in flight and never submits
a move twice.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kafka.errors import KafkaError

from kafka_medic.errors import MedicError
from kafka_medic.executor import journal as j
from kafka_medic.executor.batches import Selection, order_tasks, select_replica_tasks
from kafka_medic.executor.journal import TaskRecord
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.outcome import Outcome
from kafka_medic.executor.progress import ProgressMeter, first_names
from kafka_medic.executor.rates import applied_rates, retune_throttles, throttled_brokers
from kafka_medic.executor.submit import (
    READ_PATIENCE_S,
    reachable,
    read_cluster,
    submit_reassignments,
    uses_znode,
    with_admin,
)
from kafka_medic.executor.tasks import REPLICA, Task, half_way, reassignment_target
from kafka_medic.executor.throttles import set_broker_rates, set_replica_throttles
from kafka_medic.kafka.admin import admin_client
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.state import ClusterState
from kafka_medic.kafka.zookeeper import legacy_reassignment_pending
from kafka_medic.units import MB

if TYPE_CHECKING:
    from kafka_medic.executor.execution import Execution

QUICK_CHECK_S = 0.25  # between polls, how often to ask the controller whether a move finished
METADATA_GRACE_S = 5.0  # how long topic metadata may lag the controller's list of reassignments
# A poll reads the moves' topics, the reassignments in flight and the log dirs; their min ISR and
# throttle configs too only this often.
FULL_READ_S = 30.0


def run_batches(execution: Execution, state: ClusterState | None = None) -> Outcome:
    """Start moves as slots free up until none are left; returns DONE, STOPPED or FAILED.

    Stops cleanly (rolls back what is in flight) when asked to stop, when a destination broker dies,
    or when a move outlives its timeout; a move without progress for `stall_alert_s` raises an alert.
    Between polls it watches the controller's list of reassignments, so a move that finishes frees
    its slot for the next one at once rather than at the next poll. `state`, read just before by the
    caller, serves the first poll.
    """
    config, log = execution.config, execution.log
    with execution.claimed() as row:
        options = row.options
        znode = uses_znode(config, options)
        log(f"submitting through {'/admin/reassign_partitions' if znode else 'AlterPartitionReassignments'}")
        meter = ProgressMeter()
        throttled: set[tuple[str, int]] | None = None
        unreadable_since: float | None = None
        unsettled: dict[tuple[str, int], float] = {}
        execution.heartbeat(phase="moving")
        copied: list[Task] = []
        retune_at = time.monotonic() + options.auto_throttle_interval_s
        records = execution.tasks()
        topics = {r.task.topic for r in records if r.task.kind == REPLICA}
        left = [r.task.name for r in records if r.state == j.SUBMITTED]
        if left:  # a resumed run: these are followed, never submitted again
            log(f"adopted {len(left)} moves the last owner left in flight: {first_names(left)}")
        last: ClusterState | None = None
        full_read_at = time.monotonic() + FULL_READ_S
        while True:
            row = execution.heartbeat()
            try:
                if state is None and (last is None or config.zookeeper or time.monotonic() >= full_read_at):
                    state, full_read_at = read_cluster(config, topics=topics), time.monotonic() + FULL_READ_S
                state = state or read_cluster(config, last, topics)
                unreadable_since = None
            except MedicError as exc:
                unreadable_since = unreadable_since or time.monotonic()
                if time.monotonic() - unreadable_since > READ_PATIENCE_S:
                    raise
                log(f"WARNING cannot read the cluster ({exc}); retrying")
                time.sleep(options.poll_interval_s)
                continue
            records = execution.tasks()
            dead, changed = _reconcile(execution, records, state, unsettled)
            if row.stop_requested:
                execution.abort("stop requested")
                return Outcome.STOPPED
            if dead:
                execution.abort(f"destination broker(s) {dead} died")
                return Outcome.FAILED
            if changed:  # most polls change nothing, and a read of 2,000 tasks takes ~45 ms on the dev host
                records = execution.tasks()
            if row.options != options:  # changed by `run.change_options` since the last poll
                if row.options.throttle is not None and row.options.throttle != options.throttle:
                    _put_throttle(execution, row.options.throttle, records, set(state.alive_brokers))
                    throttled = None  # and the moves in flight throttled, should they not have been
                options = row.options
            log(meter.measure(records, state, row.batches, time.time()).line())
            timed_out = _watch_stalls(execution, records, meter, options)
            if timed_out:
                execution.abort(timed_out)
                return Outcome.FAILED
            in_flight = [r.task for r in records if r.task.kind == REPLICA and r.state == j.SUBMITTED]
            waiting = [r for r in records if r.task.kind == REPLICA and r.state in (j.PENDING, j.HELD)]
            # The znode takes one batch at a time, and the next only once the controller removed the last one.
            blocked = (znode and bool(waiting) and not in_flight and config.zookeeper is not None
                       and legacy_reassignment_pending(config.zookeeper))
            if znode and (in_flight or blocked):
                selection = Selection()
            else:
                pending = order_tasks([r.task for r in waiting], state, options.strategy)
                rates = ({b: follower for b, (_, follower) in applied_rates(execution.journal, execution.id).items()}
                         if options.auto_throttle else None)
                selection = select_replica_tasks(pending, in_flight, state, options, rates)
                _record_held(execution, waiting, selection.held)
            if options.auto_throttle and time.monotonic() >= retune_at:
                retune_throttles(execution, options, records, copied + in_flight, set(state.alive_brokers))
                retune_at, copied = time.monotonic() + options.auto_throttle_interval_s, in_flight
            wanted = {t.key for t in in_flight + selection.tasks}
            if (options.throttle or options.auto_throttle) and wanted != throttled:
                with_admin(config, lambda admin, moving=in_flight + selection.tasks:
                           set_replica_throttles(admin, execution.journal, execution.id, moving))
                throttled = wanted
            if selection.tasks:
                _submit(execution, selection.tasks, znode)
            elif not in_flight and not blocked:
                held = [r.task.name for r in waiting]
                if held:
                    log(f"{len(held)} moves held back as unsafe: {first_names(held)}")
                return Outcome.DONE
            moving = {t.key for t in in_flight + selection.tasks} - set(unsettled)
            _pause(config, set() if znode else moving, options.poll_interval_s,
                   every=len(selection.tasks) == len(waiting))
            last, state = state, None


def _put_throttle(execution: Execution, throttle: float, records: list[TaskRecord], alive: set[int]) -> None:
    """A throttle changed while the moves run: the new rate on every live broker the remaining moves involve."""
    brokers = throttled_brokers(records, alive)
    rates = {b: (int(throttle), int(throttle)) for b in brokers}
    with_admin(execution.config, lambda admin: set_broker_rates(admin, execution.journal, execution.id, rates))
    execution.log(f"throttle changed to {throttle / MB:.1f} MB/s on brokers {brokers}")


def _reconcile(execution: Execution, records: list[TaskRecord], state: ClusterState,
               unsettled: dict[tuple[str, int], float]) -> tuple[list[int], bool]:
    """Bring submitted tasks up to date from the cluster; returns the destination brokers found dead, and
    whether any task's state changed (so `records` is stale).

    Topic metadata (replicas) comes from any broker and may lag the controller's list of reassignments:
    a move no longer listed whose replicas are not yet the proposed ones has most often just finished,
    and one listed whose replicas do not yet show the new ones has just started. Only when such a
    mismatch lasts `METADATA_GRACE_S` is the move called cancelled (or redirected) by someone else;
    `unsettled` remembers since when each mismatch has been seen. A move `half_way` waits for the
    metadata however long that takes (the move's timeout bounds it): at load 14 on the dev cluster,
    1,000 moves the controller had finished showed so for over 5 s, and were called cancelled.
    """
    partitions = state.by_key
    submitting = [r.task for r in records if r.state == j.SUBMITTING]
    _settle_submitting(execution, submitting, partitions)
    changed = bool(submitting)
    alive = set(state.alive_brokers)
    dead: set[int] = set()
    now = time.monotonic()
    done = []
    for r in records:
        if r.state != j.SUBMITTED:
            continue
        p = partitions.get(r.task.key)
        if p is None:
            execution.set_task_state(r.task, j.FAILED, "partition no longer exists")
            changed = True
        elif p.reassigning and reassignment_target(p) == list(r.task.new_replicas):
            unsettled.pop(r.task.key, None)
            lost = [b for b in r.task.added if b not in alive]
            if lost:
                dead.update(lost)
                execution.set_task_state(r.task, j.DEAD, f"destination broker {lost[0]} died")
                changed = True
                execution.log(f"ALERT {r.task.name}: destination broker {lost[0]} died; the move is dead")
        elif not p.reassigning and list(p.replicas) == list(r.task.new_replicas):
            unsettled.pop(r.task.key, None)
            done.append(r.task)
        elif half_way(r.task, p):
            unsettled.pop(r.task.key, None)
        elif now - unsettled.setdefault(r.task.key, now) >= METADATA_GRACE_S:
            unsettled.pop(r.task.key, None)
            execution.set_task_state(r.task, j.CANCELLED,
                                     f"reassignment gone, replicas are {p.replicas}: cancelled elsewhere")
            changed = True
            execution.log(f"ALERT {r.task.name}: its reassignment was cancelled outside kafka-medic")
    if done:
        execution.journal.set_tasks_state(execution.id, done, j.DONE)
        names = [f"{t.name} -> {list(t.new_replicas)}" for t in done]
        execution.log(f"done {names[0]}" if len(names) == 1 else f"done {len(names)}: {first_names(names)}")
    return sorted(dead), changed or bool(done)


def _settle_submitting(execution: Execution, left: list[Task], partitions: dict) -> None:
    """Moves a dead owner journalled as submitting but never confirmed: the cluster says whether they arrived.

    One moving to, or already at, its new replicas was taken: it is submitted, counted once. One the
    cluster does not show never arrived (the owner died before its write): it is pending again and is
    submitted like any other, so it is neither lost as "cancelled elsewhere" nor counted twice.
    Submitting the same target twice would be harmless to Kafka, should the metadata lag.
    """
    if not left:
        return
    took: list[Task] = []
    lost: list[Task] = []
    for t in left:
        p = partitions.get(t.key)
        arrived = p is None or (reassignment_target(p) == list(t.new_replicas) if p.reassigning
                                else list(p.replicas) == list(t.new_replicas))
        (took if arrived else lost).append(t)
    execution.journal.confirm_submitted(execution.id, took)
    if took:
        execution.log(f"adopted {len(took)} moves the last owner submitted but died before confirming: "
                      f"{first_names([t.name for t in took])}")
    if lost:
        execution.journal.set_tasks_state(execution.id, lost, j.PENDING, "its owner died before submitting it")
        execution.log(f"{len(lost)} moves journalled but never submitted (the last owner died first), "
                      f"submitted again: {first_names([t.name for t in lost])}")


def _watch_stalls(execution: Execution, records: list[TaskRecord], meter: ProgressMeter,
                  options: ExecutionOptions) -> str | None:
    """Alert on moves that stopped closing their gap; say why the execution must stop when one timed out.

    A stalled move (a paused or overloaded broker, a throttle below the partition's produce rate) is
    alerted once per stall, with the reason kept on the task for the report. A move past its timeout
    stops the whole execution: whatever stalls it usually stalls its neighbours, and an operator would
    rather have every in-flight move rolled back and a report than an execution that never ends.
    """
    now = time.time()
    expired = []
    stalled_now = []
    for r in records:
        if r.state != j.SUBMITTED:
            continue
        idle = meter.idle_for(r.task, now)
        if idle >= options.stall_alert_s and not meter.alerted(r.task):
            meter.mark_alerted(r.task)
            note = f"no progress for {idle:.0f}s ({meter.gap_line(r.task)})"
            execution.set_task_state(r.task, j.SUBMITTED, note)
            stalled_now.append(f"{r.task.name}: {note}")
        timeout = options.timeout_for(r.task.bytes_to_move, options.throttle)
        if r.submitted_at and now - r.submitted_at > timeout:
            stalled = f"; no progress for {idle:.0f}s" if idle >= options.stall_alert_s else ""
            reason = f"timed out after {timeout:.0f}s{stalled}"
            execution.set_task_state(r.task, j.TIMED_OUT, reason)
            execution.log(f"ALERT {r.task.name}: {reason}")
            expired.append(r.task.name)
    if stalled_now:  # one line however many moves stall together (a broker that stalls stalls them all)
        execution.log(f"ALERT {stalled_now[0]}" if len(stalled_now) == 1
                      else f"ALERT {len(stalled_now)} moves stalled: {first_names(stalled_now, 3)}")
    if not expired:
        return None
    return f"move(s) {first_names(expired)} timed out"


def _pause(config: ClusterConfig, moving: set[tuple[str, int]], seconds: float, every: bool = False) -> None:
    """Sleep until the next poll, waking early when one of `moving` leaves the controller's list (a slot is
    free) or, with `every` (no move waits for a slot), when all of them did: a poll per finished move would
    then only delay seeing the last one (a poll of 2,000 moves takes ~1 s on the 2-core dev host)."""
    deadline = time.monotonic() + seconds
    if moving:
        try:
            with admin_client(reachable(config)) as admin:
                while time.monotonic() + QUICK_CHECK_S < deadline:
                    time.sleep(QUICK_CHECK_S)
                    finished = moving - {(tp.topic, tp.partition) for tp in admin.list_partition_reassignments()}
                    if finished == moving or (finished and not every):
                        return
        except (KafkaError, MedicError):
            pass  # the next poll reads the cluster properly and says what is wrong
    time.sleep(max(0.0, deadline - time.monotonic()))


def _record_held(execution: Execution, waiting: list[TaskRecord], held: dict[str, str]) -> None:
    """Journal and log moves newly held back, one transaction and one line per reason; release the others."""
    newly: dict[str, list[Task]] = {}
    released = []
    for r in waiting:
        reason = held.get(r.task.name)
        if reason and (r.state != j.HELD or r.reason != reason):
            newly.setdefault(reason, []).append(r.task)
        elif not reason and r.state == j.HELD:
            released.append(r.task)
    for reason, task_list in newly.items():
        execution.journal.set_tasks_state(execution.id, task_list, j.HELD, reason)
        names = [t.name for t in task_list]
        execution.log(f"hold {names[0]}: {reason}" if len(names) == 1
                      else f"hold {len(names)} moves ({first_names(names)}): {reason}")
    if released:
        execution.journal.set_tasks_state(execution.id, released, j.PENDING)


def _submit(execution: Execution, task_list: list[Task], znode: bool) -> None:
    """Journal first (submitting), then the cluster, then the journal again (submitted): a crash in
    between leaves moves submitting, which the next owner's `_reconcile` checks against the cluster."""
    number = execution.journal.mark_submitted(execution.id, task_list)
    errors = submit_reassignments(execution.config, task_list, znode)
    for t in task_list:
        if t.name in errors:
            execution.set_task_state(t, j.FAILED, f"refused by the cluster: {errors[t.name]}")
            execution.log(f"ALERT {t.name}: submission refused: {errors[t.name]}")
    submitted = [t for t in task_list if t.name not in errors]
    execution.journal.confirm_submitted(execution.id, submitted)
    size = sum(t.bytes_to_move for t in submitted) / MB
    execution.log(f"batch {number}: submitted {len(submitted)} moves, {size:.1f} MB: "
                  + first_names([f"{t.name} {list(t.old_replicas)}->{list(t.new_replicas)}" for t in submitted], 10))
