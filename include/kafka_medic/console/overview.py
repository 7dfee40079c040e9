"""The console's front page: one row per managed cluster, read from the store only (never Kafka).

Each figure comes from the part of the store that already holds it for the metrics endpoint: the latest
status row (brokers, partitions, balancedness, load-model completeness), the open anomalies by kind, the
running execution's figures (`notify.exporter.execution_figures`), the action log's latest entry and the
maintenance switch. A front page over N clusters is a fixed handful of indexed reads per cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kafka_medic.detector.log import AnomalyLog
from kafka_medic.detector.status import ClusterStatus, StatusLog
from kafka_medic.executor.journal import Journal
from kafka_medic.notify.action_log import ActionLog, ActionRecord
from kafka_medic.notify.exporter import ExecutionFigures, execution_figures, move_bytes
from kafka_medic.remediation.intent import IntentStore, Maintenance
from kafka_medic.remediation.policy import ClusterPolicy


@dataclass(frozen=True)
class ClusterRow:
    name: str
    status: ClusterStatus | None  # None until detect has run once
    open_anomalies: dict[str, int]
    execution: ExecutionFigures | None
    execution_id: str | None
    last_action: ActionRecord | None
    maintenance: Maintenance | None
    complete_in_min: float | None  # while the load model lacks windows: minutes until they are all there

    @property
    def load_complete(self) -> bool:
        return self.status is not None and self.status.valid_windows >= self.status.windows


def overview(clusters: Sequence[tuple[str, ClusterPolicy]], url: str | None = None) -> list[ClusterRow]:
    """A row for each (name, policy) of clusters.json, in that order."""
    with StatusLog(url) as statuses:
        latest = {s.cluster: s for s in statuses.latest()}
    with Journal(url) as journal:
        running = dict(journal.running())
        figures = {c: execution_figures(journal, c, e, move_bytes(journal, e)) for c, e in running.items()}
    with AnomalyLog(url) as anomalies, ActionLog(url) as actions, IntentStore(url) as intents:
        rows = []
        for name, policy in clusters:
            status = latest.get(name)
            recent = actions.recent(name, limit=1)
            rows.append(ClusterRow(
                name=name, status=status, open_anomalies=anomalies.open_counts(name), execution=figures.get(name),
                execution_id=running.get(name), last_action=recent[0] if recent else None,
                maintenance=intents.maintenance(name), complete_in_min=complete_in(status, policy),
            ))
    return rows


def complete_in(status: ClusterStatus | None, policy: ClusterPolicy) -> float | None:
    """Minutes until the load model has all its windows (each missing one takes a window to close); None if it has."""
    if status is None or status.valid_windows >= status.windows:
        return None
    return float((status.windows - status.valid_windows) * policy.window_minutes)
