"""The cluster status row: what each detector run saw, kept in the store for readers that must not touch Kafka.

The Prometheus endpoint (`kafka_medic.notify.exporter`) is scraped every few seconds by every Prometheus
pointed at it; reading the cluster or building the load model there would put that cost on Kafka and on
the store's samples at the scraper's pace. The detector already has the cluster state and the live
model each minute, so it writes their figures here once, and a scrape is one indexed read.

The latest row of each cluster carries `latest = true`, cleared on the row before in the same write, so
"every cluster's status now" is an index lookup however much history is kept. Rows older than
`keep_s` (7 days by default, for a later console's history) are pruned in that write too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields

import sqlalchemy as sa

from kafka_medic.goals import DEFAULT_GOALS, check
from kafka_medic.kafka.state import ClusterState
from kafka_medic.metrics.load_model import LoadModel
from kafka_medic.model import ClusterModel
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.model.placement import Placement
from kafka_medic.optimizer.balancedness import balancedness
from kafka_medic.optimizer.proposal import utilisation
from kafka_medic.storage import StoreTables

KEEP_S = 7 * 24 * 3600.0

metadata = sa.MetaData()

status = sa.Table(
    "detector_status",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cluster", sa.String(255), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("latest", sa.Boolean, nullable=False),
    sa.Column("brokers_alive", sa.Integer, nullable=False),
    sa.Column("brokers_dead", sa.Integer, nullable=False),
    sa.Column("under_replicated", sa.Integer, nullable=False),
    sa.Column("offline", sa.Integer, nullable=False),
    sa.Column("balancedness", sa.Double, nullable=False),
    *(sa.Column(f"{r}_{stat}_pct", sa.Double, nullable=False) for r in RESOURCES for stat in ("max", "mean")),
    sa.Column("windows", sa.Integer, nullable=False),
    sa.Column("valid_windows", sa.Integer, nullable=False),
    sa.Column("valid_partition_ratio", sa.Double, nullable=False),
    sa.Index("detector_status_latest", "latest", "cluster"),
    sa.Index("detector_status_history", "cluster", "at"),
)


@dataclass(frozen=True)
class ClusterStatus:
    """One detector run's figures; utilisation in % of capacity over the brokers that keep data."""

    cluster: str
    at: float
    brokers_alive: int
    brokers_dead: int
    under_replicated: int
    offline: int
    balancedness: float
    max_pct: dict[str, float]
    mean_pct: dict[str, float]
    windows: int
    valid_windows: int
    valid_partition_ratio: float


def cluster_status(
    cluster: str, state: ClusterState, model: ClusterModel, loads: LoadModel,
    goals: Sequence[str] = DEFAULT_GOALS, now: float | None = None,
) -> ClusterStatus:
    """The status of `cluster` from what a detector run read: its state, its live model and that model's loads.

    Balancedness is over `goals` (the detector's), as Cruise Control reports it for the current placement.
    """
    placement = Placement.from_model(model)
    spread = utilisation(placement, placement.metrics)
    return ClusterStatus(
        cluster=cluster, at=time.time() if now is None else now,
        brokers_alive=len(state.alive_brokers), brokers_dead=len(state.dead_brokers),
        under_replicated=len(state.under_replicated_partitions()), offline=len(state.offline_partitions()),
        balancedness=balancedness(check(placement, goals)),
        max_pct={r: spread[r]["max_pct"] or 0.0 for r in RESOURCES},
        mean_pct={r: spread[r]["mean_pct"] or 0.0 for r in RESOURCES},
        windows=loads.windows, valid_windows=loads.valid_windows, valid_partition_ratio=loads.valid_partition_ratio,
    )


class StatusLog(StoreTables):
    """The status rows of every cluster; the schema is created on first use."""

    what = "cluster status"

    def record(self, s: ClusterStatus, keep_s: float = KEEP_S) -> None:
        """Write `s` as its cluster's latest row and prune that cluster's rows older than `keep_s`."""
        with self.engine.begin() as conn:
            conn.execute(status.update().where(status.c.latest, status.c.cluster == s.cluster).values(latest=False))
            conn.execute(status.insert().values(latest=True, **status_row(s)))
            conn.execute(status.delete().where(status.c.cluster == s.cluster, status.c.at < s.at - keep_s))

    def latest(self) -> list[ClusterStatus]:
        """Every cluster's latest status, by cluster name (one row each, however many writers raced)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(status).where(status.c.latest).order_by(status.c.at)).mappings().all()
        newest = {row["cluster"]: row for row in rows}
        return [_status(newest[c]) for c in sorted(newest)]

    def series(self, cluster: str, since: float) -> dict[str, list[float]]:
        """The cluster's figures since `since` as columns, oldest first: `at`, `balancedness`, `<resource>_max_pct`
        and `<resource>_mean_pct`. One indexed range read into plain lists, no row objects: a week of minutes is
        10,080 rows, drawn as a chart."""
        names = ["at", "balancedness", *(f"{r}_{stat}_pct" for r in RESOURCES for stat in ("max", "mean"))]
        query = (sa.select(*(status.c[n] for n in names)).where(status.c.cluster == cluster, status.c.at >= since)
                 .order_by(status.c.at))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {n: list(column) for n, column in zip(names, zip(*rows, strict=True) if rows else [()] * len(names),
                                                      strict=True)}


def status_row(s: ClusterStatus) -> dict[str, object]:
    """The columns of `s` (all but `latest`)."""
    values: dict[str, object] = {f.name: getattr(s, f.name) for f in fields(s) if f.name not in ("max_pct", "mean_pct")}
    for r in RESOURCES:
        values[f"{r}_max_pct"], values[f"{r}_mean_pct"] = s.max_pct[r], s.mean_pct[r]
    return values


def _status(row) -> ClusterStatus:
    plain = {f.name: row[f.name] for f in fields(ClusterStatus) if f.name not in ("max_pct", "mean_pct")}
    return ClusterStatus(
        **plain,
        max_pct={r: row[f"{r}_max_pct"] for r in RESOURCES},
        mean_pct={r: row[f"{r}_mean_pct"] for r in RESOURCES},
    )
