"""The console's cluster page: brokers against capacity, balance over time, anomalies, executions, actions.

Brokers come from detect's model snapshot (`detector.snapshot`): per-broker arrays, so the page costs the
same numpy work for 10 brokers or 1,000 and no Python loop over partitions. Balance over time is the status
rows of the last 7 days (`detector.status`, one per detect run), as column arrays for the chart. The running
execution's progress is read from the journal: bytes of finished moves per destination broker, and the ETA
from the rate the finished moves were copied at since the execution started. Its moves are read once per
execution as columns (`PlannedMoves`) and each view reads their states as one column: at 10,000 moves, numpy
work, no Python loop over the moves.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kafka_medic.detector.anomaly import Anomaly
from kafka_medic.detector.log import AnomalyLog
from kafka_medic.detector.snapshot import ModelSnapshot, SnapshotLog
from kafka_medic.detector.status import ClusterStatus, StatusLog
from kafka_medic.executor import journal as j
from kafka_medic.executor.journal import ExecutionRecord, Journal
from kafka_medic.executor.tasks import Task
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.notify.action_log import ActionLog, ActionRecord
from kafka_medic.notify.exporter import ExecutionFigures, figures_of, throttle_rates
from kafka_medic.remediation.policy import ClusterPolicy

DAY_S, WEEK_S = 24 * 3600.0, 7 * 24 * 3600.0


@dataclass(frozen=True)
class Running:
    """The running execution: totals and throttles as the metrics endpoint has them, per broker and ETA beside."""

    record: ExecutionRecord
    figures: ExecutionFigures
    per_broker: dict[int, tuple[int, int]]  # destination broker -> (bytes done, bytes total)
    eta_s: float | None


@dataclass(frozen=True)
class ClusterView:
    name: str
    policy: ClusterPolicy
    status: ClusterStatus | None
    snapshot: ModelSnapshot | None
    history: dict[str, list[float]]  # `StatusLog.series`: the last 7 days' status rows as columns
    open_anomalies: list[Anomaly]
    past_anomalies: list[tuple[Anomaly, float]]
    executions: list[ExecutionRecord]
    running: Running | None
    actions: list[ActionRecord]

    def utilisation_pct(self) -> np.ndarray:
        """(B, 4) each broker's load in % of its capacity (0 where a capacity is unknown)."""
        s = self.snapshot
        if s is None:
            return np.zeros((0, len(RESOURCES)))
        return np.divide(100.0 * s.load, s.capacity, out=np.zeros_like(s.load), where=s.capacity > 0)

    def band_pct(self) -> list[tuple[float, float]]:
        """Per resource, the balance band (mean x (1 +- band)) in % of capacity over brokers alive."""
        util = self.utilisation_pct()
        alive = self.snapshot.alive if self.snapshot is not None else np.zeros(0, bool)
        mean = util[alive].mean(axis=0) if alive.any() else np.zeros(len(RESOURCES))
        band = self.policy.balance_band
        return [(float(m * (1 - band)), float(m * (1 + band))) for m in mean]


def cluster_view(name: str, policy: ClusterPolicy, url: str | None = None, action: str | None = None,
                 now: float | None = None) -> ClusterView:
    """Everything the cluster page shows; `action` keeps only the action log's entries of that kind."""
    now = time.time() if now is None else now
    with StatusLog(url) as statuses:
        latest = {s.cluster: s for s in statuses.latest()}.get(name)
        history = statuses.series(name, now - WEEK_S)
    with SnapshotLog(url) as snapshots:
        snapshot = snapshots.latest(name, partitions=False)
    with AnomalyLog(url) as anomalies:
        open_anomalies, past = anomalies.active(name), anomalies.past(name)
    with Journal(url) as journal:
        executions = journal.list(name, limit=20)
        running = next((_running(journal, e, now) for e in executions if e.status == j.RUNNING), None)
    with ActionLog(url) as log:
        actions = [a for a in log.recent(name, limit=200) if action in (None, a.action)][:50]
    return ClusterView(
        name=name, policy=policy, status=latest, snapshot=snapshot, history=history,
        open_anomalies=open_anomalies, past_anomalies=past, executions=executions, running=running, actions=actions,
    )


def _running(journal: Journal, record: ExecutionRecord, now: float) -> Running:
    moves = planned_moves(journal.url, record.id)
    (states,) = journal.task_columns(record.id, "state")
    state = np.array(states, dtype=str)
    figures = figures_of(record.cluster, state, moves.sizes * moves.copies, throttle_rates(journal, record.id))
    return Running(record=record, figures=figures, per_broker=per_broker(moves, state),
                   eta_s=eta(figures.bytes_done, figures.bytes_total, record.started_at, now))


@dataclass(frozen=True)
class PlannedMoves:
    """An execution's moves as columns in the journal's task order, every replica a move adds beside."""

    sizes: np.ndarray  # (N,) bytes each added replica of the move copies
    copies: np.ndarray  # (N,) replicas the move adds
    added_move: np.ndarray  # (A,) the move adding each replica (index into the moves)
    added_broker: np.ndarray  # (A,) the broker it is added on

    @classmethod
    def of(cls, tasks: list[Task]) -> PlannedMoves:
        added = [(i, b) for i, t in enumerate(tasks) for b in t.added]
        pairs = np.array(added, dtype=np.int64).reshape(-1, 2)
        return cls(sizes=np.array([t.size_bytes for t in tasks], dtype=np.int64),
                   copies=np.bincount(pairs[:, 0], minlength=len(tasks)),
                   added_move=pairs[:, 0], added_broker=pairs[:, 1])


@lru_cache(maxsize=16)
def planned_moves(url: str, execution_id: str) -> PlannedMoves:
    """The execution's moves, fixed when it is created: read once per execution (the task JSON alone, one
    query), while every page view reads only their states as one column and does numpy work on both."""
    with Journal(url) as journal:
        (texts,) = journal.task_columns(execution_id, "task")
    return PlannedMoves.of([Task.from_dict(json.loads(text)) for text in texts])


def per_broker(moves: PlannedMoves, states: np.ndarray) -> dict[int, tuple[int, int]]:
    """Destination broker -> (bytes its finished moves copied, bytes all its moves copy); skipped moves left out.
    `states` are the moves' states in the same order."""
    kept = states[moves.added_move] != j.SKIPPED
    brokers, slot = np.unique(moves.added_broker[kept], return_inverse=True)
    sizes = moves.sizes[moves.added_move[kept]]
    done = states[moves.added_move[kept]] == j.DONE
    total = np.bincount(slot, weights=sizes, minlength=len(brokers))
    finished = np.bincount(slot, weights=sizes * done, minlength=len(brokers))
    return {int(b): (int(d), int(t)) for b, d, t in zip(brokers, finished, total, strict=True)}


def eta(done: int, total: int, started_at: float, now: float) -> float | None:
    """Seconds left at the rate finished moves were copied since the execution started; None before one finished."""
    if not done or now <= started_at:
        return None
    return (total - done) / (done / (now - started_at))
