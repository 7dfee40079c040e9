"""The executor's steps, each one idempotent and safe to re-run after a crash.

The Airflow DAG runs them as separate retryable tasks (start -> set throttles -> execute batches ->
elect leaders -> verify -> clear throttles -> finish, the last two as teardown); `run.execute`
chains them for the CLI. Every step claims the execution in the journal (refused while another live process
owns it), reads in-flight reassignments and throttles from the cluster before it acts, and lets go of
the execution when it returns so that the next step, maybe in another process, may claim it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka.errors import KafkaError

from kafka_medic.capacity import load_capacities
from kafka_medic.errors import MedicError
from kafka_medic.executor import journal as j
from kafka_medic.executor.batches import Selection, order_tasks, select_replica_tasks
from kafka_medic.executor.journal import Journal, TaskRecord, proposal_hash
from kafka_medic.executor.options import MB, ExecutionOptions
from kafka_medic.executor.progress import ProgressMeter
from kafka_medic.executor.report import build_report
from kafka_medic.executor.stop import abort
from kafka_medic.executor.submit import (
    READ_PATIENCE_S,
    elect_preferred_leaders,
    reachable,
    read_cluster,
    read_state,
    submit_reassignments,
    uses_znode,
    with_admin,
)
from kafka_medic.executor.tasks import LEADER, REPLICA, Task, reassignment_target, refuse_invalid, tasks_for
from kafka_medic.executor.throttles import BROKER, set_broker_rates, set_replica_throttles
from kafka_medic.executor.throttles import clear_throttles as clear_throttle_configs
from kafka_medic.kafka.admin import admin_client
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.state import THROTTLE_RATE_CONFIGS, ClusterState
from kafka_medic.kafka.zookeeper import legacy_reassignment_pending
from kafka_medic.model import Proposal

Log = Callable[[str], None]
ELECTION_WAIT_S = 60.0
QUICK_CHECK_S = 0.25  # between polls, how often to ask the controller whether a move finished
METADATA_GRACE_S = 5.0  # how long topic metadata may lag the controller's list of reassignments


def start_execution(config: ClusterConfig, proposal: Proposal, options: ExecutionOptions, journal: Journal,
                    log: Log = print, state: ClusterState | None = None) -> str:
    """Record a new execution and take the cluster's lock; or pick up the interrupted one for this proposal.

    The lock is Kafka's cluster id, so the same cluster under two names (or two bootstrap lists) is one
    cluster. A second execution on it is refused with a message naming the one that holds it.
    `state`, when the caller has just read it, saves reading the cluster again.
    """
    state = state or read_cluster(config)
    key = lock_key(config, state)
    holder = journal.lock_holder(key, config.name)
    if holder is None:
        task_list, skipped = tasks_for(proposal.moves, state)
        refuse_invalid(skipped)
        clear_left_throttles(config, journal, state, log)
        execution_id = journal.create(config.name, proposal, options, task_list + [s.task for s in skipped], key)
        if execution_id is None:
            holder = journal.lock_holder(key, config.name)
        else:
            for s in skipped:
                journal.set_task_state(execution_id, s.task, j.SKIPPED, s.reason)
                log(f"skip {s.task.name}: {s.reason}")
            journal.release(execution_id)
            replica = [t for t in task_list if t.kind == REPLICA]
            log(f"execution {execution_id}: {len(replica)} replica moves "
                f"({sum(t.bytes_to_move for t in replica) / MB:.1f} MB), "
                f"{sum(t.kind == LEADER for t in task_list)} leadership moves, {len(skipped)} skipped")
            return execution_id
    if holder is None:
        raise MedicError(f"could not take the execution lock of cluster {config.name!r}; try again")
    same = "" if holder.cluster == config.name else f" (as {holder.cluster!r}: the same Kafka cluster, {key})"
    if holder.proposal_hash != proposal_hash(proposal):
        hint = ("it is running" if holder.owner_alive(holder.options.heartbeat_timeout_s)
                else "it was interrupted: re-run it with its own proposal to resume, or `kafka-medic stop` it")
        raise MedicError(f"cluster {config.name!r} already has {holder.describe()}{same}; {hint}")
    if holder.owner_alive(holder.options.heartbeat_timeout_s):
        raise MedicError(f"cluster {config.name!r} is already executing this proposal: {holder.describe()}{same}")
    log(f"resuming {holder.describe()} with its recorded options")
    return holder.id


def lock_key(config: ClusterConfig, state: ClusterState | None = None) -> str:
    """What the execution lock is keyed by: Kafka's cluster id, which every broker and bootstrap list shares.

    A cluster that reports no id (only very old ones) falls back to the configured name.
    """
    if state is not None:
        cluster_id = state.cluster_id if state.cluster_id != config.name else None
    else:
        cluster_id = with_admin(config, lambda admin: admin.describe_cluster().get("cluster_id"))
    return f"kafka-cluster-id:{cluster_id}" if cluster_id else config.name


def set_throttles(config: ClusterConfig, execution_id: str, journal: Journal, log: Log = print,
                  state: ClusterState | None = None) -> dict:
    """Put replication rates on every live broker the remaining moves involve; returns broker -> rates."""
    with journal.claimed(execution_id) as execution:
        options = execution.options
        if options.throttle is None and not options.auto_throttle:
            return {}
        state = state or read_state(config)
        alive = set(state.alive_brokers)
        remaining = [r.task for r in journal.tasks(execution_id)
                     if r.task.kind == REPLICA and r.state in (j.PENDING, j.HELD, j.SUBMITTED)]
        brokers = sorted({b for t in remaining for b in (*t.old_replicas, *t.new_replicas)} & alive)
        rates = _rates(config, options, brokers, journal.url)
        with_admin(config, lambda admin: set_broker_rates(admin, journal, execution_id, rates))
        journal.heartbeat(execution_id, phase="throttled")
        shown = ", ".join(f"{b}: {lr / MB:.1f}/{fr / MB:.1f}" for b, (lr, fr) in rates.items())
        log(f"throttle (leader/follower MB/s) on brokers {shown}")
        return rates


def execute_batches(config: ClusterConfig, execution_id: str, journal: Journal, log: Log = print,
                    state: ClusterState | None = None) -> str:
    """Start moves as slots free up until none are left; returns "done", "stopped" or "failed".

    Stops cleanly (rolls back what is in flight) when asked to stop, when a destination broker dies,
    or when a move outlives its timeout; a move without progress for `stall_alert_s` raises an alert.
    Between polls it watches the controller's list of reassignments, so a move that finishes frees
    its slot for the next one at once rather than at the next poll. `state`, read just before by the
    caller, serves the first poll.
    """
    with journal.claimed(execution_id) as execution:
        options = execution.options
        znode = uses_znode(config, options)
        log(f"submitting through {'/admin/reassign_partitions' if znode else 'AlterPartitionReassignments'}")
        meter = ProgressMeter()
        throttled: set[tuple[str, int]] | None = None
        unreadable_since: float | None = None
        unsettled: dict[tuple[str, int], float] = {}
        journal.heartbeat(execution_id, phase="moving")
        retune_at, copied = time.monotonic() + options.auto_throttle_interval_s, []
        while True:
            execution = journal.heartbeat(execution_id)
            try:
                state = state or read_cluster(config)
                unreadable_since = None
            except MedicError as exc:
                unreadable_since = unreadable_since or time.monotonic()
                if time.monotonic() - unreadable_since > READ_PATIENCE_S:
                    raise
                log(f"WARNING cannot read the cluster ({exc}); retrying")
                time.sleep(options.poll_interval_s)
                continue
            records = journal.tasks(execution_id)
            dead = _reconcile(records, state, journal, execution_id, log, unsettled)
            if execution.stop_requested:
                abort(config, journal, execution_id, "stop requested", log)
                return "stopped"
            if dead:
                abort(config, journal, execution_id, f"destination broker(s) {dead} died", log)
                return "failed"
            records = journal.tasks(execution_id)
            log(meter.measure(records, state, execution.batches, time.time()).line())
            timed_out = _watch_stalls(records, meter, journal, execution_id, options, log)
            if timed_out:
                abort(config, journal, execution_id, timed_out, log)
                return "failed"
            in_flight = [r.task for r in records if r.task.kind == REPLICA and r.state == j.SUBMITTED]
            waiting = [r for r in records if r.task.kind == REPLICA and r.state in (j.PENDING, j.HELD)]
            # The znode takes one batch at a time, and the next only once the controller removed the last one.
            blocked = znode and bool(waiting) and not in_flight and legacy_reassignment_pending(config.zookeeper)
            if znode and (in_flight or blocked):
                selection = Selection()
            else:
                pending = order_tasks([r.task for r in waiting], state, options.strategy)
                selection = select_replica_tasks(pending, in_flight, state, options)
                _record_held(waiting, selection.held, journal, execution_id, log)
            if options.auto_throttle and time.monotonic() >= retune_at:
                _retune_throttles(config, journal, execution_id, options, records, copied + in_flight,
                                  set(state.alive_brokers), log)
                retune_at, copied = time.monotonic() + options.auto_throttle_interval_s, in_flight
            wanted = {t.key for t in in_flight + selection.tasks}
            if (options.throttle or options.auto_throttle) and wanted != throttled:
                with_admin(config, lambda admin, moving=in_flight + selection.tasks:
                           set_replica_throttles(admin, journal, execution_id, moving))
                throttled = wanted
            if selection.tasks:
                _submit(config, selection.tasks, journal, execution_id, log, znode)
            elif not in_flight and not blocked:
                held = [r.task.name for r in waiting]
                if held:
                    log(f"{len(held)} moves held back as unsafe: {', '.join(held)}")
                return "done"
            moving = {t.key for t in in_flight + selection.tasks} - set(unsettled)
            _pause(config, set() if znode else moving, options.poll_interval_s)
            state = None


def elect_leaders(config: ClusterConfig, execution_id: str, journal: Journal, log: Log = print) -> dict[str, str]:
    """Preferred leader elections, in batches, for moves whose leader is not yet the proposed one.

    Returns partition name -> why its leader could not be moved.
    """
    with journal.claimed(execution_id) as execution:
        if execution.stop_requested:
            return {}
        journal.heartbeat(execution_id, phase="electing")
        records = journal.tasks(execution_id)
        wanted = {r.task.key: r for r in records
                  if r.task.new_leader is not None and r.state in (j.DONE, j.PENDING, j.HELD) and
                  (r.task.kind == LEADER or r.state == j.DONE)}
        failures: dict[str, str] = {}
        state = read_state(config)
        todo = []
        for p in state.partitions:
            r = wanted.get((p.topic, p.partition))
            if r is None or p.leader == r.task.new_leader:
                continue
            if list(p.replicas) != list(r.task.new_replicas) or p.reassigning:
                failures[p.name] = f"replicas are {p.replicas}, not the proposed {list(r.task.new_replicas)}"
            elif r.task.new_replicas[0] != r.task.new_leader:
                failures[p.name] = f"new leader {r.task.new_leader} is not the preferred (first) replica"
            else:
                todo.append(r.task)
        size = execution.options.leader_batch_size
        for i in range(0, len(todo), size):
            failures.update(_elect(config, todo[i:i + size], log))
        for r in wanted.values():
            if r.task.kind == LEADER:
                reason = failures.get(r.task.name)
                journal.set_task_state(execution_id, r.task, j.FAILED if reason else j.DONE, reason)
        return failures


def verify(config: ClusterConfig, execution_id: str, journal: Journal) -> dict:
    """Compare the cluster with the proposal: which moves are done, which not and why."""
    execution = journal.get(execution_id)
    state = read_state(config)
    return build_report(execution, journal.tasks(execution_id), journal.throttles(execution_id), state)


def clear_throttles(config: ClusterConfig, execution_id: str, journal: Journal, log: Log = print) -> list[str]:
    """Put every throttle value the execution changed back as it was (the teardown: always runs)."""
    execution = journal.get(execution_id)
    if execution.status == j.RUNNING and execution.owner_alive(execution.options.heartbeat_timeout_s) and \
            not execution.owned_by_me():
        raise MedicError(f"{execution.describe()} is running in another process: stop it instead")
    state = read_state(config)
    alive = set(state.alive_brokers)
    left = with_admin(config, lambda admin: clear_throttle_configs(admin, journal, execution_id, alive, log))
    for note in left:
        log(f"WARNING {note}")
    if not any(r.applied is not None for r in journal.throttles(execution_id)):
        return left
    log("throttles cleared" if not left else "throttles cleared except on brokers that are down")
    return left


def clear_left_throttles(config: ClusterConfig, journal: Journal, state: ClusterState, log: Log = print) -> None:
    """Put back the throttles finished executions left: rates on brokers that were down then and are back
    now (a broker that died mid-execution keeps them until someone clears them), and any topic throttles
    of an execution whose own clearing never ran."""
    alive = set(state.alive_brokers)
    for execution_id in journal.with_throttles_left(config.name):
        left = [r for r in journal.throttles(execution_id) if not r.cleared]
        back = sorted({int(r.name) for r in left if r.resource == BROKER and int(r.name) in alive})
        topics = sorted({r.name for r in left if r.resource != BROKER})
        if back or topics:
            where = [f"broker(s) {back}"] if back else []
            where += [f"topic(s) {topics}"] if topics else []
            log(f"clearing the throttles execution {execution_id} left on {', '.join(where)}")
            with_admin(config, lambda admin, e=execution_id: clear_throttle_configs(admin, journal, e, alive, log))


def finish(config: ClusterConfig, execution_id: str, journal: Journal, log: Log = print) -> dict:
    """Decide the outcome, store the report and free the cluster's lock; a finished execution's report as is."""
    execution = journal.get(execution_id)
    if execution.status != j.RUNNING:
        return execution.report or {}
    report = verify(config, execution_id, journal)
    if execution.phase == "aborted":
        status = "stopped" if execution.stop_requested else "failed"
    else:
        status = "succeeded" if not report["undone"] else "failed"
    report["status"] = status
    report["message"] = execution.message
    journal.finish(execution_id, status, execution.message, report)
    for line in report_lines(report):
        log(line)
    return report


def report_lines(report: dict) -> list[str]:
    lines = [f"execution {report['execution_id']} {report['status']}"
             + (f": {report['message']}" if report.get("message") else "")
             + f" in {report['duration_s']:.0f}s, {report['bytes_moved'] / MB:.1f} MB moved"]
    lines.append(f"done ({len(report['done'])}): {', '.join(report['done']) or '-'}")
    if report["undone"]:
        lines.append(f"not done ({len(report['undone'])}): "
                     + ", ".join(f"{u['partition']} ({u['state']}: {u['reason']})" for u in report["undone"]))
    if report["throttles_left"]:
        lines.append(f"throttles left: {report['throttles_left']}")
    return lines


def _rates(config: ClusterConfig, options: ExecutionOptions, brokers: list[int],
           store_url: str) -> dict[int, tuple[int, int]]:
    """Fixed rates, or headroom from the samples in the store the journal lives in (the metrics store)."""
    if options.throttle is not None:
        return {b: (int(options.throttle), int(options.throttle)) for b in brokers}
    return _headroom(config, options, brokers, store_url)[0]


def _headroom(config: ClusterConfig, options: ExecutionOptions, brokers: list[int], store_url: str,
              ours: dict[int, tuple[float, float]] | None = None, average_s: float = 0.0):
    """(broker -> auto-throttle rates, broker -> the traffic measured) from the latest samples."""
    from kafka_medic.executor.headroom import headroom_rates, measured_traffic
    from kafka_medic.metrics.store import MetricsStore

    with MetricsStore(store_url) as store:
        traffic = measured_traffic(store, config.name, brokers, average_s=average_s)
    capacities = load_capacities(options.capacity_file)
    return headroom_rates(capacities, traffic, options.auto_throttle_fraction, ours=ours), traffic


def _retune_throttles(config: ClusterConfig, journal: Journal, execution_id: str, options: ExecutionOptions,
                      records: list[TaskRecord], copying: list[Task], alive: set[int], log: Log) -> None:
    """Auto throttle: the rates again from the latest samples, put on the brokers where they changed enough.

    `copying`: the moves in flight now or at the last retune (a move that has just finished is still in
    the samples).
    """
    from kafka_medic.executor.headroom import changed_rates, describe_change

    current = _applied_rates(journal, execution_id)
    remaining = [r.task for r in records if r.task.kind == REPLICA and r.state in (j.PENDING, j.HELD, j.SUBMITTED)]
    brokers = sorted({b for t in remaining for b in (*t.old_replicas, *t.new_replicas)} & alive)
    # What our own moves may be copying: a source sends at most its leader rate, a destination takes in
    # at most its follower rate.
    ours = {b: (current[b][0] if any(b in t.old_replicas for t in copying) else 0,
                current[b][1] if any(b in t.added for t in copying) else 0) for b in brokers if b in current}
    try:
        rates, traffic = _headroom(config, options, brokers, journal.url, ours, options.auto_throttle_interval_s)
    except MedicError as exc:
        log(f"WARNING throttle rates kept as they are: {exc}")
        return
    changes = changed_rates({b: current[b] for b in brokers if b in current}, rates)
    if not changes:
        return
    outside = with_admin(config, lambda admin: set_broker_rates(admin, journal, execution_id, changes, current))
    for broker, pair in changes.items():
        if broker in outside:
            log(f"throttle: broker {broker} left as it is: its rates were changed outside kafka-medic")
        else:
            log(describe_change(broker, current.get(broker), pair, traffic[broker]))


def _applied_rates(journal: Journal, execution_id: str) -> dict[int, tuple[int, int]]:
    """broker -> (leader, follower) rate this execution has put on it."""
    leader, follower = THROTTLE_RATE_CONFIGS
    applied = {(r.name, r.config): int(r.applied) for r in journal.throttles(execution_id)
               if r.resource == BROKER and not r.cleared and r.applied is not None}
    return {int(name): (applied[(name, leader)], applied[(name, follower)])
            for name, config in applied if config == leader and (name, follower) in applied}


def _reconcile(records: list[TaskRecord], state: ClusterState, journal: Journal, execution_id: str,
               log: Log, unsettled: dict[tuple[str, int], float]) -> list[int]:
    """Bring submitted tasks up to date from the cluster; returns destination brokers found dead.

    Topic metadata (replicas) comes from any broker and may lag the controller's list of reassignments:
    a move no longer listed whose replicas are not yet the proposed ones has most often just finished,
    and one listed whose replicas do not yet show the new ones has just started. Only when such a
    mismatch lasts `METADATA_GRACE_S` is the move called cancelled (or redirected) by someone else;
    `unsettled` remembers since when each mismatch has been seen.
    """
    partitions = {(p.topic, p.partition): p for p in state.partitions}
    alive = set(state.alive_brokers)
    dead: set[int] = set()
    now = time.monotonic()
    for r in records:
        if r.state != j.SUBMITTED:
            continue
        p = partitions.get(r.task.key)
        if p is None:
            journal.set_task_state(execution_id, r.task, j.FAILED, "partition no longer exists")
        elif p.reassigning and reassignment_target(p) == list(r.task.new_replicas):
            unsettled.pop(r.task.key, None)
            lost = [b for b in r.task.added if b not in alive]
            if lost:
                dead.update(lost)
                journal.set_task_state(execution_id, r.task, j.DEAD, f"destination broker {lost[0]} died")
                log(f"ALERT {r.task.name}: destination broker {lost[0]} died; the move is dead")
        elif not p.reassigning and list(p.replicas) == list(r.task.new_replicas):
            unsettled.pop(r.task.key, None)
            journal.set_task_state(execution_id, r.task, j.DONE)
            log(f"done {r.task.name} -> {list(r.task.new_replicas)}")
        elif now - unsettled.setdefault(r.task.key, now) >= METADATA_GRACE_S:
            unsettled.pop(r.task.key, None)
            journal.set_task_state(execution_id, r.task, j.CANCELLED,
                                   f"reassignment gone, replicas are {p.replicas}: cancelled elsewhere")
            log(f"ALERT {r.task.name}: its reassignment was cancelled outside kafka-medic")
    return sorted(dead)


def _watch_stalls(records: list[TaskRecord], meter: ProgressMeter, journal: Journal, execution_id: str,
                  options: ExecutionOptions, log: Log) -> str | None:
    """Alert on moves that stopped closing their gap; say why the execution must stop when one timed out.

    A stalled move (a paused or overloaded broker, a throttle below the partition's produce rate) is
    alerted once per stall, with the reason kept on the task for the report. A move past its timeout
    stops the whole execution: whatever stalls it usually stalls its neighbours, and an operator would
    rather have every in-flight move rolled back and a report than an execution that never ends.
    """
    now = time.time()
    expired = []
    for r in records:
        if r.state != j.SUBMITTED:
            continue
        idle = meter.idle_for(r.task, now)
        if idle >= options.stall_alert_s and not meter.alerted(r.task):
            meter.mark_alerted(r.task)
            note = f"no progress for {idle:.0f}s ({meter.gap_line(r.task)})"
            journal.set_task_state(execution_id, r.task, j.SUBMITTED, note)
            log(f"ALERT {r.task.name}: {note}")
        timeout = options.timeout_for(r.task.bytes_to_move, options.throttle)
        if r.submitted_at and now - r.submitted_at > timeout:
            stalled = f"; no progress for {idle:.0f}s" if idle >= options.stall_alert_s else ""
            reason = f"timed out after {timeout:.0f}s{stalled}"
            journal.set_task_state(execution_id, r.task, j.TIMED_OUT, reason)
            log(f"ALERT {r.task.name}: {reason}")
            expired.append(r.task.name)
    if not expired:
        return None
    return f"move(s) {', '.join(expired)} timed out"


def _pause(config: ClusterConfig, moving: set[tuple[str, int]], seconds: float) -> None:
    """Sleep until the next poll, waking early when one of `moving` leaves the controller's list (a slot is free)."""
    deadline = time.monotonic() + seconds
    if moving:
        try:
            with admin_client(reachable(config)) as admin:
                while time.monotonic() + QUICK_CHECK_S < deadline:
                    time.sleep(QUICK_CHECK_S)
                    listed = {(tp.topic, tp.partition) for tp in admin.list_partition_reassignments()}
                    if moving - listed:
                        return
        except (KafkaError, MedicError):
            pass  # the next poll reads the cluster properly and says what is wrong
    time.sleep(max(0.0, deadline - time.monotonic()))


def _record_held(waiting: list[TaskRecord], held: dict[str, str], journal: Journal, execution_id: str,
                 log: Log) -> None:
    for r in waiting:
        reason = held.get(r.task.name)
        if reason and (r.state != j.HELD or r.reason != reason):
            journal.set_task_state(execution_id, r.task, j.HELD, reason)
            log(f"hold {r.task.name}: {reason}")
        elif not reason and r.state == j.HELD:
            journal.set_task_state(execution_id, r.task, j.PENDING)


def _submit(config: ClusterConfig, task_list: list[Task], journal: Journal, execution_id: str, log: Log,
            znode: bool) -> None:
    """Journal first, then the cluster: a crash in between shows as a submitted move the cluster never saw."""
    number = journal.mark_submitted(execution_id, task_list)
    errors = submit_reassignments(config, task_list, znode)
    for t in task_list:
        if t.name in errors:
            journal.set_task_state(execution_id, t, j.FAILED, f"refused by the cluster: {errors[t.name]}")
            log(f"ALERT {t.name}: submission refused: {errors[t.name]}")
    log(f"batch {number}: submitted " + ", ".join(
        f"{t.name} {list(t.old_replicas)}->{list(t.new_replicas)}" for t in task_list if t.name not in errors))


def _elect(config: ClusterConfig, task_list: list[Task], log: Log) -> dict[str, str]:
    errors = elect_preferred_leaders(config, [t.key for t in task_list])
    log(f"preferred leader election for {len(task_list)} partitions"
        + (f"; refused: {errors}" if errors else ""))
    wanted = {t.key: t.new_leader for t in task_list if t.name not in errors}
    deadline = time.monotonic() + ELECTION_WAIT_S
    while wanted and time.monotonic() < deadline:
        state = read_state(config)
        wanted = {k: v for k, v in wanted.items()
                  if next((p.leader for p in state.partitions if (p.topic, p.partition) == k), None) != v}
        if wanted:
            time.sleep(1)
    errors.update({f"{t}-{p}": f"leader is not {v} after {ELECTION_WAIT_S:.0f}s" for (t, p), v in wanted.items()})
    return errors

