"""The anomaly log: each anomaly once while it lasts, in the metrics store's database.

The detector runs every minute; the log turns those runs into episodes (first seen, last seen,
resolved), so people are alerted once, a remediation is started once, and the grace periods of
`kafka_medic.detector.remediation` can be measured from when the anomaly really started.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from kafka_medic.detector.anomaly import Anomaly
from kafka_medic.detector.remediation import DEFAULT_RULES, Rule
from kafka_medic.storage import StoreTables

metadata = sa.MetaData()

anomalies = sa.Table(
    "detector_anomalies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cluster", sa.String(255), nullable=False),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),  # JSON
    sa.Column("brokers", sa.Text, nullable=False),  # JSON list of ids
    sa.Column("first_seen", sa.Double, nullable=False),
    sa.Column("last_seen", sa.Double, nullable=False),
    sa.Column("resolved_at", sa.Double),
    sa.Column("alerted_at", sa.Double),
    sa.Column("acted_at", sa.Double),
    sa.Index("detector_anomalies_open", "cluster", "resolved_at", "key"),
)

# Every remediation started for an anomaly (held_back NULL), and every one the policy's max_attempts held
# back (held_back: why). Keyed by the anomaly's key, not its episode: a broker that dies, is healed and dies
# again is one loop of attempts, however many episodes the detector saw.
attempts = sa.Table(
    "remediation_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cluster", sa.String(255), nullable=False),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("run", sa.String(512), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("held_back", sa.Text),
    sa.Index("remediation_attempts_by_key", "cluster", "key", "at"),
)


class AnomalyLog(StoreTables):
    """Episodes of anomalies per cluster; the schema is created on first use."""

    what = "anomaly log"

    def record(
        self, cluster: str, found: Iterable[Anomaly], now: float | None = None
    ) -> tuple[list[Anomaly], list[Anomaly], list[Anomaly]]:
        """Record one detector run: returns (new, ongoing, resolved).

        Ongoing anomalies get their `first_seen` from the log and their latest summary and details;
        open anomalies that this run did not find are resolved now.
        """
        now = time.time() if now is None else now
        by_key = {a.key: a for a in found}
        new, ongoing = [], []
        with self.engine.begin() as conn:
            open_rows = {row.key: row for row in conn.execute(self._open(cluster))}
            for key, anomaly in by_key.items():
                row = open_rows.get(key)
                values = {"severity": anomaly.severity, "summary": anomaly.summary, "last_seen": now,
                          "details": json.dumps(anomaly.details, default=str), "brokers": json.dumps(anomaly.brokers)}
                if row is None:
                    anomaly.first_seen = now
                    conn.execute(anomalies.insert().values(cluster=cluster, key=key, kind=anomaly.kind,
                                                           first_seen=now, **values))
                    new.append(anomaly)
                else:
                    anomaly.first_seen = row.first_seen
                    conn.execute(anomalies.update().where(anomalies.c.id == row.id).values(**values))
                    ongoing.append(anomaly)
            gone = [row for key, row in open_rows.items() if key not in by_key]
            if gone:
                ids = [row.id for row in gone]
                conn.execute(anomalies.update().where(anomalies.c.id.in_(ids)).values(resolved_at=now))
        return new, ongoing, [_anomaly(row) for row in gone]

    def active(self, cluster: str) -> list[Anomaly]:
        """Open anomalies, oldest first."""
        with self.engine.connect() as conn:
            return [_anomaly(row) for row in conn.execute(self._open(cluster).order_by(anomalies.c.first_seen))]

    def past(self, cluster: str, limit: int = 50) -> list[tuple[Anomaly, float]]:
        """Resolved episodes with when each ended, latest first."""
        query = (
            sa.select(anomalies).where(anomalies.c.cluster == cluster, anomalies.c.resolved_at.is_not(None))
            .order_by(anomalies.c.resolved_at.desc()).limit(limit)
        )
        with self.engine.connect() as conn:
            return [(_anomaly(row), row.resolved_at) for row in conn.execute(query)]

    def open_counts(self, cluster: str) -> dict[str, int]:
        """Open anomalies by kind: one grouped read of the open-anomaly index, for the metrics endpoint."""
        query = (
            sa.select(anomalies.c.kind, sa.func.count())
            .where(anomalies.c.cluster == cluster, anomalies.c.resolved_at.is_(None))
            .group_by(anomalies.c.kind)
        )
        with self.engine.connect() as conn:
            return {kind: count for kind, count in conn.execute(query)}

    def duration(self, cluster: str, key: str, now: float | None = None) -> float | None:
        """Seconds the anomaly has lasted (open) or lasted (its latest episode, resolved); None if never seen."""
        now = time.time() if now is None else now
        query = (
            sa.select(anomalies.c.first_seen, anomalies.c.resolved_at)
            .where(anomalies.c.cluster == cluster, anomalies.c.key == key)
            .order_by(anomalies.c.first_seen.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return (row.resolved_at if row.resolved_at is not None else now) - row.first_seen

    def due_alerts(
        self, cluster: str, rules: Mapping[str, Rule] = DEFAULT_RULES, now: float | None = None
    ) -> list[Anomaly]:
        """Open anomalies nobody was told about yet that have lasted their kind's `alert_after_s`."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            rows = conn.execute(self._open(cluster).where(anomalies.c.alerted_at.is_(None))).all()
        return [_anomaly(r) for r in rows if now - r.first_seen >= rules[r.kind].alert_after_s]

    def due_actions(
        self, cluster: str, rules: Mapping[str, Rule] = DEFAULT_RULES, now: float | None = None
    ) -> dict[str, list[Anomaly]]:
        """Open anomalies not yet acted on that have lasted `act_after_s`, grouped by the action they trigger."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            rows = conn.execute(self._open(cluster).where(anomalies.c.acted_at.is_(None))).all()
        due: dict[str, list[Anomaly]] = {}
        for row in rows:
            rule = rules[row.kind]
            if rule.action is not None and now - row.first_seen >= rule.act_after_s:
                due.setdefault(rule.action, []).append(_anomaly(row))
        return due

    def mark_alerted(self, cluster: str, keys: Iterable[str], now: float | None = None) -> None:
        self._mark(cluster, keys, anomalies.c.alerted_at, now)

    def mark_acted(self, cluster: str, keys: Iterable[str], now: float | None = None) -> None:
        """Record that a remediation was started for these open anomalies, so it is not started again."""
        self._mark(cluster, keys, anomalies.c.acted_at, now)

    def resolve(self, cluster: str, keys: Iterable[str], now: float | None = None) -> None:
        """End these episodes now (the heal saw them recover), so that the next failure is a new episode
        with its own grace period and its own remediation, even if no detector run saw the recovery."""
        self._mark(cluster, keys, anomalies.c.resolved_at, now)

    def _mark(self, cluster: str, keys: Iterable[str], column: sa.Column, now: float | None) -> None:
        now = time.time() if now is None else now
        keys = list(keys)
        if not keys:
            return
        with self.engine.begin() as conn:
            conn.execute(
                anomalies.update()
                .where(anomalies.c.cluster == cluster, anomalies.c.resolved_at.is_(None), anomalies.c.key.in_(keys))
                .values({column.name: now})
            )

    def attempts(self, cluster: str, keys: Iterable[str], since: float) -> dict[str, int]:
        """Remediations started for each of `keys` since then (held-back ones not counted)."""
        query = (
            sa.select(attempts.c.key, sa.func.count())
            .where(attempts.c.cluster == cluster, attempts.c.key.in_(list(keys)), attempts.c.at >= since,
                   attempts.c.held_back.is_(None))
            .group_by(attempts.c.key)
        )
        with self.engine.connect() as conn:
            return {key: count for key, count in conn.execute(query)}

    def record_attempts(self, cluster: str, keys: Iterable[str], action: str, run: str, held_back: str | None = None,
                        now: float | None = None) -> None:
        """A remediation `run` started for these anomalies, or (`held_back`: why) one that was not."""
        now = time.time() if now is None else now
        rows = [{"cluster": cluster, "key": key, "action": action, "run": run, "at": now, "held_back": held_back}
                for key in keys]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(attempts.insert(), rows)

    def attempt_log(self, cluster: str, limit: int = 50) -> list[dict]:
        """The latest attempts and held-back ones, latest first: what an operator reads after a loop stopped."""
        query = (sa.select(attempts).where(attempts.c.cluster == cluster)
                 .order_by(attempts.c.at.desc(), attempts.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    @staticmethod
    def _open(cluster: str) -> sa.Select:
        return sa.select(anomalies).where(anomalies.c.cluster == cluster, anomalies.c.resolved_at.is_(None))


def _anomaly(row) -> Anomaly:
    return Anomaly(
        kind=row.kind,
        key=row.key,
        severity=row.severity,
        summary=row.summary,
        details=json.loads(row.details),
        first_seen=row.first_seen,
        brokers=json.loads(row.brokers),
    )
