"""The console's cluster page: brokers against capacity, balance over time, anomalies, executions, actions.

Brokers come from detect's model snapshot (`detector.snapshot`): per-broker arrays, so the page costs the
same numpy work for 10 brokers or 1,000 and no Python loop over partitions. Balance over time is the status
rows of the last 7 days (`detector.status`, one per detect run), as column arrays for the chart. The running
execution's progress is read from the journal: bytes of finished moves per destination broker, and the ETA
from the rate the finished moves were copied at since the execution started.
"""

from __future__ import annotations

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
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.notify.action_log import ActionLog, ActionRecord
from kafka_medic.notify.exporter import ExecutionFigures, execution_figures
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
    states = journal.task_states(record.id)
    figures = execution_figures(journal, record.cluster, record.id,
                                {key: size * len(added) for key, added, size in moves}, states)
    return Running(record=record, figures=figures, per_broker=per_broker(moves, states),
                   eta_s=eta(figures.bytes_done, figures.bytes_total, record.started_at, now))


@lru_cache(maxsize=16)
def planned_moves(url: str, execution_id: str) -> tuple[tuple[tuple[str, int], tuple[int, ...], int], ...]:
    """(partition, brokers added, bytes each copies) of each move: fixed when the execution is created, so read
    and parsed once per execution (10,000 moves: 0.3 s), while every page view reads only their states."""
    with Journal(url) as journal:
        return tuple((t.task.key, t.task.added, t.task.size_bytes) for t in journal.tasks(execution_id))


def per_broker(moves, states: dict[tuple[str, int], str]) -> dict[int, tuple[int, int]]:
    """Destination broker -> (bytes its finished moves copied, bytes all its moves copy); skipped moves left out."""
    out: dict[int, list[int]] = {}
    for key, added, size in moves:
        state = states.get(key)
        if state == j.SKIPPED:
            continue
        for broker in added:
            figures = out.setdefault(broker, [0, 0])
            figures[1] += size
            if state == j.DONE:
                figures[0] += size
    return {b: (done, total) for b, (done, total) in sorted(out.items())}


def eta(done: int, total: int, started_at: float, now: float) -> float | None:
    """Seconds left at the rate finished moves were copied since the execution started; None before one finished."""
    if not done or now <= started_at:
        return None
    return (total - done) / (done / (now - started_at))
