"""An execution and its steps, each one idempotent and safe to re-run after a crash.

The Airflow DAG runs the steps as separate retryable tasks (start -> set throttles -> execute batches ->
elect leaders -> verify -> clear throttles -> finish, the last two as teardown), each task building an
`Execution` from the id the first one returned; `run.execute` chains them for the CLI. Every step claims
the execution in the journal (refused while another live process owns it), reads in-flight reassignments
and throttles from the cluster before it acts, and lets go of the execution when it returns so that the
next step, maybe in another process, may claim it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import NamedTuple

from kafka_medic.errors import MedicError
from kafka_medic.executor import journal as j
from kafka_medic.executor import stop
from kafka_medic.executor.journal import ExecutionRecord, Journal, TaskRecord, proposal_hash
from kafka_medic.executor.moving import run_batches
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.outcome import Outcome
from kafka_medic.executor.rates import throttle_rates, throttled_brokers
from kafka_medic.executor.report import build_report, report_lines
from kafka_medic.executor.submit import elect_preferred_leaders, read_cluster, read_state, with_admin
from kafka_medic.executor.tasks import LEADER, REPLICA, Task, half_way, leader_lagging, refuse_invalid, tasks_for
from kafka_medic.executor.throttles import BROKER, set_broker_rates
from kafka_medic.executor.throttles import clear_throttles as clear_throttle_configs
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.state import ClusterState
from kafka_medic.model import Proposal
from kafka_medic.units import MB

Log = Callable[[str], None]
ELECTION_WAIT_S = 60.0
METADATA_SETTLE_S = 30.0
SETTLE_POLL_S = 0.25  # a lagging broker's metadata catches up within a few hundred ms on an idle cluster


class Elections(NamedTuple):
    """What `Execution.elect_leaders` did: partition -> why its leader could not be moved, and how many
    partitions it asked to elect (none: a state read before it still shows the leaders as they are)."""

    failures: dict[str, str]
    asked: int


class Execution:
    """One execution in the journal, driven from this process: a method per step.

    It holds only what every step needs to act (the cluster, the journal, the execution's id and where
    to log). Everything else a step reads afresh from the journal and the cluster, which is what makes
    it safe to re-run, and lets the next step run in another process.
    """

    def __init__(self, config: ClusterConfig, journal: Journal, execution_id: str, log: Log = print) -> None:
        self.config = config
        self.journal = journal
        self.id = execution_id
        self.log = log

    @classmethod
    def start(cls, config: ClusterConfig, proposal: Proposal, options: ExecutionOptions, journal: Journal,
              log: Log = print, state: ClusterState | None = None) -> Execution:
        """Record a new execution and take the cluster's lock; or pick up the interrupted one for this proposal.

        The lock is Kafka's cluster id, so the same cluster under two names (or two bootstrap lists) is one
        cluster. A second execution on it is refused with a message naming the one that holds it.
        `state`, when the caller has just read it (`read_for`), saves reading the cluster again.
        """
        state = state or read_for(config, proposal)
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
                return cls(config, journal, execution_id, log)
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
        return cls(config, journal, holder.id, log)

    # The journal, for this execution

    def record(self) -> ExecutionRecord:
        """The execution's row as the journal has it now."""
        return self.journal.get(self.id)

    def claimed(self) -> AbstractContextManager[ExecutionRecord]:
        """Own the execution for one step (see `Journal.claimed`)."""
        return self.journal.claimed(self.id)

    def heartbeat(self, **values) -> ExecutionRecord:
        return self.journal.heartbeat(self.id, **values)

    def tasks(self) -> list[TaskRecord]:
        return self.journal.tasks(self.id)

    def set_task_state(self, task: Task, state: str, reason: str | None = None) -> None:
        self.journal.set_task_state(self.id, task, state, reason)

    # The steps

    def set_throttles(self, state: ClusterState | None = None) -> dict:
        """Put replication rates on every live broker the remaining moves involve; returns broker -> rates."""
        with self.claimed() as row:
            options = row.options
            if options.throttle is None and not options.auto_throttle:
                return {}
            state = state or read_state(self.config, topics=())  # which brokers are alive
            brokers = throttled_brokers(self.tasks(), set(state.alive_brokers))
            rates = throttle_rates(self, options, brokers)
            with_admin(self.config, lambda admin: set_broker_rates(admin, self.journal, self.id, rates))
            self.heartbeat(phase="throttled")
            shown = ", ".join(f"{b}: {lr / MB:.1f}/{fr / MB:.1f}" for b, (lr, fr) in rates.items())
            self.log(f"throttle (leader/follower MB/s) on brokers {shown}")
            return rates

    def execute_batches(self, state: ClusterState | None = None) -> Outcome:
        """Start moves as slots free up until none are left: DONE, STOPPED or FAILED (see `moving`).

        `state`, read just before by the caller, serves the first poll.
        """
        return run_batches(self, state)

    def elect_leaders(self, state: ClusterState | None = None) -> Elections:
        """Preferred leader elections, in batches, for moves whose leader is not yet the proposed one.

        `state`, read settled (`settled_state`) just before by the caller, saves reading it again.
        """
        with self.claimed() as row:
            if row.stop_requested:
                return Elections({}, 0)
            self.heartbeat(phase="electing")
            records = self.tasks()
            wanted = {r.task.key: r for r in records
                      if r.task.new_leader is not None and r.state in (j.DONE, j.PENDING, j.HELD) and
                      (r.task.kind == LEADER or r.state == j.DONE)}
            failures: dict[str, str] = {}
            state = state or self._settled_state(list(wanted.values()))
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
            size = row.options.leader_batch_size
            for i in range(0, len(todo), size):
                failures.update(self._elect(todo[i:i + size]))
            for r in wanted.values():
                if r.task.kind == LEADER:
                    reason = failures.get(r.task.name)
                    self.set_task_state(r.task, j.FAILED if reason else j.DONE, reason)
            return Elections(failures, len(todo))

    def verify(self, state: ClusterState | None = None) -> dict:
        """Compare the cluster with the proposal: which moves are done, which not and why.

        `state`, read settled since the last move or election, saves reading it again.
        """
        row = self.record()
        records = self.tasks()
        state = state or self._settled_state(records, leaders=True)
        return build_report(row, records, self.journal.throttles(self.id), state)

    def abort(self, reason: str) -> None:
        """Roll back the moves in flight and start nothing new (see the `stop` module); the caller holds the claim."""
        stop.abort(self, reason)

    def clear_throttles(self, state: ClusterState | None = None) -> list[str]:
        """Put every throttle value the execution changed back as it was (the teardown: always runs).

        `state`, a recent read, tells which brokers are alive.
        """
        row = self.record()
        if row.status == j.RUNNING and row.owner_alive(row.options.heartbeat_timeout_s) and not row.owned_by_me():
            raise MedicError(f"{row.describe()} is running in another process: stop it instead")
        alive = set((state or read_state(self.config, topics=())).alive_brokers)
        left = with_admin(self.config,
                          lambda admin: clear_throttle_configs(admin, self.journal, self.id, alive, self.log))
        for note in left:
            self.log(f"WARNING {note}")
        if not any(r.applied is not None for r in self.journal.throttles(self.id)):
            return left
        self.log("throttles cleared" if not left else "throttles cleared except on brokers that are down")
        return left

    def finish(self, state: ClusterState | None = None) -> dict:
        """Decide the outcome, store the report and free the cluster's lock; a finished execution's report as is.

        `state` as for `verify`.
        """
        row = self.record()
        if row.status != j.RUNNING:
            return row.report or {}
        report = self.verify(state)
        if row.phase == "aborted":
            status = Outcome.STOPPED if row.stop_requested else Outcome.FAILED
        else:
            status = Outcome.SUCCEEDED if not report["undone"] else Outcome.FAILED
        report["status"] = status
        report["message"] = row.message
        self.journal.finish(self.id, status, row.message, report)
        for line in report_lines(report):
            self.log(line)
        return report

    def settled_state(self) -> ClusterState:
        """The state of every task's topic, once the metadata no longer shows a finished move half-way."""
        return self._settled_state(self.tasks())

    def _settled_state(self, records: list[TaskRecord], leaders: bool = False) -> ClusterState:
        """The state of these tasks' topics, read again while it shows moves `half_way`, for up to
        `METADATA_SETTLE_S`: a lagging broker must not make a finished move look undone (the report)
        or not yet on its proposed replicas (leader elections). With `leaders` (the report, after the
        elections) also while a done move shows another leader than the proposed one in sync
        (`leader_lagging`); an election that truly failed is then reported that much later."""
        topics = {r.task.topic for r in records}
        lagging = (lambda t, p: half_way(t, p) or leader_lagging(t, p)) if leaders else half_way
        deadline = time.monotonic() + METADATA_SETTLE_S
        while True:
            state = read_state(self.config, topics=topics)
            partitions = state.by_key
            if time.monotonic() > deadline or not any(
                    (p := partitions.get(r.task.key)) is not None and lagging(r.task, p) for r in records):
                return state
            time.sleep(SETTLE_POLL_S)

    def _elect(self, task_list: list[Task]) -> dict[str, str]:
        errors = elect_preferred_leaders(self.config, [t.key for t in task_list])
        self.log(f"preferred leader election for {len(task_list)} partitions"
                 + (f"; refused: {errors}" if errors else ""))
        wanted = {t.key: t.new_leader for t in task_list if t.name not in errors}
        deadline = time.monotonic() + ELECTION_WAIT_S
        while wanted and time.monotonic() < deadline:
            state = read_state(self.config, topics={t for t, _ in wanted})
            wanted = {k: v for k, v in wanted.items()
                      if next((p.leader for p in state.partitions if (p.topic, p.partition) == k), None) != v}
            if wanted:
                time.sleep(1)
        errors.update({f"{t}-{p}": f"leader is not {v} after {ELECTION_WAIT_S:.0f}s" for (t, p), v in wanted.items()})
        return errors


def read_for(config: ClusterConfig, proposal: Proposal) -> ClusterState:
    """The cluster as an execution's start needs it: the proposal's topics and every live broker.

    Nothing else is read: with 4,000 partitions a whole read took 1.2-1.6 s, and the start used to make
    it. A broker the moves name that the bounded read does not know is looked for in a whole read, which
    finds it dead (it holds other topics' replicas) rather than absent from the cluster.
    """
    state = read_cluster(config, topics={m.topic for m in proposal.moves})
    if any(b not in state.brokers for m in proposal.moves for b in m.new_replicas):
        state = read_cluster(config)
    return state


def lock_key(config: ClusterConfig, state: ClusterState | None = None) -> str:
    """What the execution lock is keyed by: Kafka's cluster id, which every broker and bootstrap list shares.

    A cluster that reports no id (only very old ones) falls back to the configured name.
    """
    if state is not None:
        cluster_id = state.cluster_id if state.cluster_id != config.name else None
    else:
        cluster_id = with_admin(config, lambda admin: admin.describe_cluster().get("cluster_id"))
    return f"kafka-cluster-id:{cluster_id}" if cluster_id else config.name


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
