"""The executor's journal: executions, their tasks, the throttles they set, and the one-per-cluster lock.

The lock is keyed by what identifies the Kafka cluster itself (its cluster id, see `execution.lock_key`), not
by the name a caller gave it, so two names for one cluster cannot run two executions at once.

It lives in the metrics store's database (same URL, same engine conventions) in tables of its own.
The cluster is the truth for what is in flight; the journal remembers what only kafka-medic knows:
which moves belong to which execution, what was submitted when, the throttle values that were there
before kafka-medic changed them, who runs the execution, and whether someone asked it to stop.
Every state change is written before the matching cluster write, so a crash between the two is
resolved by reading the cluster, never by repeating the write blindly.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import psutil
import sqlalchemy as sa

from kafka_medic.errors import MedicError
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.tasks import Task
from kafka_medic.model import Proposal, parse_proposal, proposal_to_dict
from kafka_medic.storage import StoreTables

# Task states. A submitted task is in flight until the cluster shows it finished or rolled back.
PENDING, SUBMITTED, DONE = "pending", "submitted", "done"
CANCELLED, DEAD, TIMED_OUT, HELD, FAILED = "cancelled", "dead", "timed_out", "held", "failed"
SKIPPED = "skipped"  # the proposal's move needed nothing, or could not apply (the reason says which)
# Journalled before the cluster write, SUBMITTED once the cluster took it: a move left submitting was in a
# batch whose owner died in between, and the next owner asks the cluster whether it arrived.
SUBMITTING = "submitting"
RUNNING = "running"

metadata = sa.MetaData()

executions = sa.Table(
    "executor_executions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("cluster", sa.String(255), nullable=False, index=True),
    sa.Column("proposal_hash", sa.String(64), nullable=False),
    sa.Column("proposal", sa.Text, nullable=False),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("phase", sa.String(32), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("finished_at", sa.Double),
    sa.Column("owner_host", sa.String(255)),
    sa.Column("owner_pid", sa.Integer),
    sa.Column("heartbeat", sa.Double),
    sa.Column("stop_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("batches", sa.Integer, nullable=False, default=0),
    sa.Column("report", sa.Text),
    # Writes of its tasks so far: each numbers the tasks it changes (`executor_tasks.changed`, see `tasks`).
    sa.Column("task_changes", sa.Integer, nullable=False, default=0, server_default="0"),
)

locks = sa.Table(
    "executor_locks",
    metadata,
    sa.Column("cluster", sa.String(255), primary_key=True),  # the lock key: Kafka's cluster id
    sa.Column("execution_id", sa.String(64), nullable=False),
)

tasks = sa.Table(
    "executor_tasks",
    metadata,
    sa.Column("execution_id", sa.String(64), sa.ForeignKey("executor_executions.id"), primary_key=True),
    sa.Column("topic", sa.String(255), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("task", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("batch", sa.Integer),
    sa.Column("submissions", sa.Integer, nullable=False, default=0),
    sa.Column("submitted_at", sa.Double),
    sa.Column("finished_at", sa.Double),
    sa.Column("changed", sa.Integer, nullable=False, default=0, server_default="0"),  # the write that last changed it
    sa.Index("ix_executor_tasks_changed", "execution_id", "changed"),
)
# What a task record holds besides the task itself, in TaskRecord's order.
STATE_COLUMNS = (tasks.c.state, tasks.c.reason, tasks.c.batch, tasks.c.submissions, tasks.c.submitted_at,
                 tasks.c.finished_at)

throttles = sa.Table(
    "executor_throttles",
    metadata,
    sa.Column("execution_id", sa.String(64), sa.ForeignKey("executor_executions.id"), primary_key=True),
    sa.Column("resource", sa.String(8), primary_key=True),  # "broker" or "topic"
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("config", sa.String(64), primary_key=True),
    sa.Column("original", sa.Text),  # the value before kafka-medic touched it; NULL: it was not set
    sa.Column("applied", sa.Text),  # the value kafka-medic last set; NULL: kafka-medic left it as it was
    sa.Column("cleared", sa.Boolean, nullable=False, default=False),
)


@dataclass
class ExecutionRecord:
    """An execution's row: what it is doing, who owns it, how it ended (`execution.Execution` drives it)."""

    id: str
    cluster: str
    proposal_hash: str
    proposal_json: str  # parsed on first use (`proposal`)
    options: ExecutionOptions
    status: str
    phase: str
    message: str | None
    started_at: float
    finished_at: float | None
    owner_host: str | None
    owner_pid: int | None
    heartbeat: float | None
    stop_requested: bool
    batches: int
    report: dict | None

    @cached_property
    def proposal(self) -> Proposal:
        """The proposal, parsed when asked for: every heartbeat and claim reads the row, and parsing
        a 2,000-move proposal each time took 0.16 s (4 s of a 38 s execution of 2,000 small moves)."""
        return parse_proposal(json.loads(self.proposal_json))

    def owner_alive(self, timeout_s: float, now: float | None = None) -> bool:
        """A process owns the execution and has shown signs of life (on this host: its pid exists)."""
        if self.owner_pid is None or self.heartbeat is None:
            return False
        if (now or time.time()) - self.heartbeat > timeout_s:
            return False
        return self.owner_host != socket.gethostname() or psutil.pid_exists(self.owner_pid)

    def abandoned(self, timeout_s: float, now: float | None = None) -> bool:
        """No process will carry it on: its owner is gone, or nobody has owned it for `timeout_s`.

        Unowned alone is not enough: an executor lets go between its steps (abort, clearing throttles,
        the next Airflow task), and a `stop` that took over then would race it.
        """
        if self.owner_pid is not None:
            return not self.owner_alive(timeout_s, now)
        return self.heartbeat is None or (now or time.time()) - self.heartbeat > timeout_s

    def owned_by_me(self) -> bool:
        return (self.owner_host, self.owner_pid) == (socket.gethostname(), os.getpid())

    def describe(self) -> str:
        started = datetime.fromtimestamp(self.started_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        owner = f" by pid {self.owner_pid} on {self.owner_host}" if self.owner_pid else ""
        return f"execution {self.id} ({len(self.proposal.moves)} moves, started {started}{owner}, {self.phase})"


@dataclass
class TaskRecord:
    task: Task
    state: str
    reason: str | None
    batch: int | None
    submissions: int
    submitted_at: float | None
    finished_at: float | None


@dataclass
class ThrottleRecord:
    resource: str
    name: str
    config: str
    original: str | None
    applied: str | None
    cleared: bool


def proposal_hash(proposal: Proposal) -> str:
    """Identifies a proposal by its moves, so re-running the same proposal resumes instead of starting over."""
    moves = json.dumps(proposal_to_dict(proposal)["moves"], sort_keys=True)
    return hashlib.sha256(f"{proposal.cluster}\n{moves}".encode()).hexdigest()


class Journal(StoreTables):
    """Reads and writes the executor tables; every method is its own transaction."""

    what = "executor journal"

    def __init__(self, url: str | None = None) -> None:
        super().__init__(url)
        self._kept: _KeptTasks | None = None  # the tasks of the execution read last (see `tasks`)

    # Executions and the lock

    def create(self, cluster: str, proposal: Proposal, options: ExecutionOptions, task_list: list[Task],
               lock_key: str | None = None) -> str | None:
        """Record a new execution holding the lock `lock_key` (default: the name); None when another holds it."""
        now = time.time()
        execution_id = f"{cluster}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        try:
            with self.engine.begin() as conn:
                conn.execute(locks.insert().values(cluster=lock_key or cluster, execution_id=execution_id))
                conn.execute(executions.insert().values(
                    id=execution_id, cluster=cluster, proposal_hash=proposal_hash(proposal),
                    proposal=json.dumps(proposal_to_dict(proposal)), options=json.dumps(options.as_dict()),
                    status=RUNNING, phase="created", started_at=now, stop_requested=False, batches=0,
                    owner_host=socket.gethostname(), owner_pid=os.getpid(), heartbeat=now,
                ))
                if task_list:
                    conn.execute(tasks.insert(), [
                        {"execution_id": execution_id, "topic": t.topic, "partition": t.partition, "seq": i,
                         "task": json.dumps(t.as_dict()), "state": PENDING, "submissions": 0}
                        for i, t in enumerate(task_list)
                    ])
        except sa.exc.IntegrityError:
            return None
        return execution_id

    def lock_holder(self, *keys: str) -> ExecutionRecord | None:
        """The execution holding the lock under any of these keys (a cluster id, or a name for older rows)."""
        with self.engine.connect() as conn:
            execution_id = conn.scalar(sa.select(locks.c.execution_id).where(locks.c.cluster.in_(keys)).limit(1))
        return self.get(execution_id) if execution_id else None

    def running(self) -> builtins.list[tuple[str, str]]:
        """(cluster, execution id) of every execution holding its cluster's lock: a read of the small lock table."""
        query = (
            sa.select(executions.c.cluster, executions.c.id)
            .join(locks, locks.c.execution_id == executions.c.id)
            .order_by(executions.c.cluster)
        )
        with self.engine.connect() as conn:
            return [(row.cluster, row.id) for row in conn.execute(query)]

    def get(self, execution_id: str) -> ExecutionRecord:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(executions).where(executions.c.id == execution_id)).mappings().first()
        if row is None:
            raise MedicError(f"no execution {execution_id!r} in the journal at {self.url}")
        return _execution(row)

    # `builtins.list` below: this method's name hides the type inside the class.
    def list(self, cluster: str | None = None, limit: int = 20) -> list[ExecutionRecord]:
        query = sa.select(executions).order_by(executions.c.started_at.desc()).limit(limit)
        if cluster:
            query = query.where(executions.c.cluster == cluster)
        with self.engine.connect() as conn:
            return [_execution(row) for row in conn.execute(query).mappings()]

    def claim(self, execution_id: str) -> ExecutionRecord:
        """Make this process the execution's owner; refused while another live process owns it."""
        me = (socket.gethostname(), os.getpid())
        execution = self.get(execution_id)
        if execution.status != RUNNING:
            raise MedicError(f"{execution.describe()} has already finished: {execution.status}")
        if not execution.owned_by_me() and execution.owner_alive(execution.options.heartbeat_timeout_s):
            raise MedicError(f"{execution.describe()} is running in another process")
        # Compare and swap: only one of two processes claiming at the same moment wins.
        seen = (
            executions.c.owner_pid.is_not_distinct_from(execution.owner_pid),
            executions.c.heartbeat.is_not_distinct_from(execution.heartbeat),
        )
        with self.engine.begin() as conn:
            claimed = conn.execute(executions.update().where(executions.c.id == execution_id, *seen).values(
                owner_host=me[0], owner_pid=me[1], heartbeat=time.time())).rowcount
        if not claimed:
            raise MedicError(f"{self.get(execution_id).describe()} was just claimed by another process")
        return self.get(execution_id)

    @contextmanager
    def claimed(self, execution_id: str) -> Iterator[ExecutionRecord]:
        """Own the execution for one step and let go of it afterwards, whatever happens."""
        execution = self.claim(execution_id)
        try:
            yield execution
        finally:
            self.release(execution_id)

    def release(self, execution_id: str) -> None:
        """Give up ownership between steps, so the next step (maybe another process) may claim at once."""
        self._update(execution_id, owner_pid=None, owner_host=None)

    def heartbeat(self, execution_id: str, **values) -> ExecutionRecord:
        self._update(execution_id, heartbeat=time.time(), **values)
        return self.get(execution_id)

    def request_stop(self, execution_id: str) -> None:
        self._update(execution_id, stop_requested=True)

    def set_options(self, execution_id: str, options: ExecutionOptions) -> None:
        """Replace a running execution's options: its executor reads them back at each poll."""
        self._update(execution_id, options=json.dumps(options.as_dict()))

    def finish(self, execution_id: str, status: str, message: str | None, report: dict) -> None:
        """Record the outcome and free the cluster for the next execution."""
        with self.engine.begin() as conn:
            conn.execute(executions.update().where(executions.c.id == execution_id).values(
                status=status, phase="finished", message=message, report=json.dumps(report, default=str),
                finished_at=time.time(), owner_pid=None, owner_host=None))
            conn.execute(locks.delete().where(locks.c.execution_id == execution_id))

    def _update(self, execution_id: str, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(executions.update().where(executions.c.id == execution_id).values(**values))

    # Tasks

    def tasks(self, execution_id: str) -> builtins.list[TaskRecord]:
        """Every task with its state, in the proposal's order.

        The move loop reads this every poll, at up to 300,000 tasks of which a few hundred changed. Each
        write of tasks takes the next number of its execution's `task_changes` (under the execution row's
        lock, so the numbers commit in order) and stamps the tasks it changes with it; the journal keeps the
        records of the execution it read last and reads again only the tasks stamped after the newest stamp
        it has seen, whichever process wrote them. A task's JSON never changes once written.
        """
        kept = self._kept
        with self.engine.connect() as conn:
            if kept is None or kept.execution_id != execution_id or not kept.update(conn):
                kept = self._kept = _KeptTasks.read(conn, execution_id)
        return list(kept.records)

    def task_states(self, execution_id: str) -> dict[tuple[str, int], str]:
        """(topic, partition) -> state of every task, without reading the tasks themselves (cheap to poll)."""
        query = sa.select(tasks.c.topic, tasks.c.partition, tasks.c.state).where(tasks.c.execution_id == execution_id)
        with self.engine.connect() as conn:
            return {(topic, partition): state for topic, partition, state in conn.execute(query).all()}

    def task_columns(self, execution_id: str, *columns: str) -> builtins.list[builtins.list]:
        """The tasks' `columns` (e.g. "task", "state") as plain lists in the tasks' order: one query and no row
        objects, what the console's columnar read of a 10,000-move execution needs."""
        query = sa.select(*(tasks.c[c] for c in columns)).where(tasks.c.execution_id == execution_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(tasks.c.seq)).all()
        return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in columns]

    def mark_submitted(self, execution_id: str, task_list: builtins.list[Task]) -> int:
        """Record a batch as being submitted (before the cluster write) and return its number: its moves are
        SUBMITTING until `confirm_submitted` says the cluster took them."""
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(executions.update().where(executions.c.id == execution_id).values(
                batches=executions.c.batches + 1))
            number = conn.scalar(sa.select(executions.c.batches).where(executions.c.id == execution_id))
            if number is None:
                raise MedicError(f"no execution {execution_id!r} in the journal at {self.url}")
            _update_tasks(conn, execution_id, task_list, state=SUBMITTING, batch=number, submitted_at=now)
        return number

    def confirm_submitted(self, execution_id: str, task_list: Iterable[Task]) -> None:
        """The cluster took these moves: in flight now, and counted as submitted once more."""
        with self.engine.begin() as conn:
            _update_tasks(conn, execution_id, task_list, state=SUBMITTED, submissions=tasks.c.submissions + 1)

    def set_task_state(self, execution_id: str, task: Task, state: str, reason: str | None = None) -> None:
        self.set_tasks_state(execution_id, [task], state, reason)

    def set_tasks_state(self, execution_id: str, task_list: Iterable[Task], state: str,
                        reason: str | None = None) -> None:
        """One transaction for many tasks: a poll that sees 1,000 small moves finish writes once, not 1,000 times."""
        finished = None if state in (PENDING, SUBMITTING, SUBMITTED, HELD) else time.time()
        with self.engine.begin() as conn:
            _update_tasks(conn, execution_id, task_list, state=state, reason=reason, finished_at=finished)

    # Throttles

    def throttles(self, execution_id: str) -> builtins.list[ThrottleRecord]:
        query = sa.select(throttles).where(throttles.c.execution_id == execution_id)
        with self.engine.connect() as conn:
            return [
                ThrottleRecord(r["resource"], r["name"], r["config"], r["original"], r["applied"], r["cleared"])
                for r in conn.execute(query).mappings()
            ]

    def with_throttles_left(self, cluster: str) -> builtins.list[str]:
        """Finished executions of `cluster` with a throttle value not yet put back (a broker was down)."""
        query = (
            sa.select(executions.c.id).distinct()
            .join(throttles, throttles.c.execution_id == executions.c.id)
            .where(executions.c.cluster == cluster, executions.c.status != RUNNING, throttles.c.cleared.is_(False))
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def remember_original(self, execution_id: str, resource: str, name: str, config: str, original: str | None) -> None:
        """Keep the value found before the first change; later calls never overwrite it."""
        key = _throttle_key(execution_id, resource, name, config)
        with self.engine.begin() as conn:
            if conn.scalar(sa.select(sa.func.count()).select_from(throttles).where(*key)):
                return
            conn.execute(throttles.insert().values(
                execution_id=execution_id, resource=resource, name=name, config=config, original=original,
                applied=None, cleared=False))

    def record_applied(self, execution_id: str, resource: str, name: str, config: str, applied: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(throttles.update().where(*_throttle_key(execution_id, resource, name, config)).values(
                applied=applied, cleared=False))

    def mark_cleared(self, execution_id: str, resource: str, name: str, config: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(throttles.update().where(*_throttle_key(execution_id, resource, name, config)).values(
                cleared=True))


def _update_tasks(conn, execution_id: str, task_list: Iterable[Task], **values) -> None:
    """The same values on many tasks in one executemany (one statement per task took 1 ms each on SQLite),
    stamped with this write's number (see `Journal.tasks`)."""
    keys = [{"key_topic": t.topic, "key_partition": t.partition} for t in task_list]
    if keys:
        this = executions.c.id == execution_id
        conn.execute(executions.update().where(this).values(task_changes=executions.c.task_changes + 1))
        change = conn.scalar(sa.select(executions.c.task_changes).where(this))
        conn.execute(tasks.update().where(
            tasks.c.execution_id == execution_id, tasks.c.topic == sa.bindparam("key_topic"),
            tasks.c.partition == sa.bindparam("key_partition")).values(changed=change, **values), keys)


@dataclass
class _KeptTasks:
    """One execution's task records as last read, and the newest write stamp among them."""

    execution_id: str
    records: list[TaskRecord]
    at: dict[int, int]  # seq -> index in records
    seen: int

    @classmethod
    def read(cls, conn, execution_id: str) -> _KeptTasks:
        """Every task: its JSON parsed once, its state columns as plain tuples (row mappings cost 4x the
        query at 100,000 tasks)."""
        query = sa.select(tasks.c.seq, tasks.c.changed, tasks.c.task, *STATE_COLUMNS).where(
            tasks.c.execution_id == execution_id).order_by(tasks.c.seq)
        records, at, seen = [], {}, 0
        for i, (seq, changed, text, *state) in enumerate(conn.execute(query)):
            records.append(TaskRecord(Task.from_dict(json.loads(text)), *state))
            at[seq] = i
            seen = max(seen, changed)
        return cls(execution_id, records, at, seen)

    def update(self, conn) -> bool:
        """Read the tasks written since the last read (an index range on (execution_id, changed)); False
        when one of them was not there at the last read (the caller reads them all)."""
        query = sa.select(tasks.c.seq, tasks.c.changed, *STATE_COLUMNS).where(
            tasks.c.execution_id == self.execution_id, tasks.c.changed > self.seen)
        for seq, changed, *state in conn.execute(query):
            i = self.at.get(seq)
            if i is None:
                return False
            self.records[i] = TaskRecord(self.records[i].task, *state)
            self.seen = max(self.seen, changed)
        return True


def _throttle_key(execution_id: str, resource: str, name: str, config: str):
    return (
        throttles.c.execution_id == execution_id, throttles.c.resource == resource,
        throttles.c.name == name, throttles.c.config == config,
    )


def _execution(row) -> ExecutionRecord:
    return ExecutionRecord(
        id=row["id"], cluster=row["cluster"], proposal_hash=row["proposal_hash"],
        proposal_json=row["proposal"],
        options=ExecutionOptions.from_dict(json.loads(row["options"])),
        status=row["status"], phase=row["phase"], message=row["message"], started_at=row["started_at"],
        finished_at=row["finished_at"], owner_host=row["owner_host"], owner_pid=row["owner_pid"],
        heartbeat=row["heartbeat"], stop_requested=bool(row["stop_requested"]), batches=row["batches"],
        report=json.loads(row["report"]) if row["report"] else None,
    )
