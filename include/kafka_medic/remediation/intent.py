"""What operators meant, remembered: brokers taken out of service, and clusters in maintenance.

A decommissioned broker is empty on purpose and a demoted one leads nothing on purpose; a planner that
only sees the cluster sees an empty (or idle) broker and fills it again at the next rebalance. So a run
that decommissions or demotes brokers records them here, and every later plan on the cluster keeps them
excluded until someone re-adds them (`kafka-medic brokers readd`, the `maintenance` DAG's `readd_brokers`)
or the cluster policy's `intent_ttl_hours` passes.

Maintenance is the other intent: while a cluster is in maintenance (`kafka-medic maintenance on`, or the
`maintenance` DAG), no run that nobody started by hand (scheduled, asset- or detector-started) acts on it;
each says so in a skipped task. Self-healing switched off for some anomaly kinds (Cruise Control's `admin`
`disable_self_healing_for`) is the narrow form: the detector starts no remediation for those kinds, and
says so, while other kinds and runs started by hand go ahead.

Both live in the store (`kafka_medic.storage`), so the CLI, every Airflow worker and the DAG forms agree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from kafka_medic.storage import StoreTables

DECOMMISSIONED, DEMOTED = "decommissioned", "demoted"
INTENTS = (DECOMMISSIONED, DEMOTED)

metadata = sa.MetaData()

broker_intents = sa.Table(
    "broker_intents",
    metadata,
    sa.Column("cluster", sa.String(255), primary_key=True),
    sa.Column("broker", sa.Integer, primary_key=True),
    sa.Column("intent", sa.String(32), nullable=False),
    sa.Column("since", sa.Double, nullable=False),
    sa.Column("until", sa.Double),  # None: until re-added
    sa.Column("by", sa.Text, nullable=False),  # who or which run
)

maintenance = sa.Table(
    "cluster_maintenance",
    metadata,
    sa.Column("cluster", sa.String(255), primary_key=True),
    sa.Column("since", sa.Double, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("by", sa.Text, nullable=False),
)

self_healing_off = sa.Table(
    "self_healing_off",
    metadata,
    sa.Column("cluster", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),  # an anomaly kind (kafka_medic.detector)
    sa.Column("since", sa.Double, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("by", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class BrokerIntent:
    broker: int
    intent: str  # DECOMMISSIONED or DEMOTED
    since: float
    until: float | None
    by: str

    def as_dict(self) -> dict:
        return {"broker": self.broker, "intent": self.intent, "since": self.since, "until": self.until, "by": self.by}


@dataclass(frozen=True)
class Maintenance:
    since: float
    reason: str
    by: str

    def as_dict(self) -> dict:
        return {"since": self.since, "reason": self.reason, "by": self.by}

    def skip_reason(self, cluster: str) -> str:
        """What a run that maintenance stopped says."""
        why = f": {self.reason}" if self.reason else ""
        since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.since))
        return (f"cluster {cluster} is in maintenance since {since} (by {self.by}{why}); "
                "automated actions are paused until `kafka-medic maintenance off`")


@dataclass(frozen=True)
class SelfHealingOff:
    kind: str
    since: float
    reason: str
    by: str

    def skip_reason(self) -> str:
        """What a remediation this switch stopped says."""
        why = f": {self.reason}" if self.reason else ""
        since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.since))
        return f"self-healing for {self.kind} is off since {since} (by {self.by}{why})"


class IntentStore(StoreTables):
    """Broker intents, maintenance and self-healing switches per cluster; the schema is created on first use."""

    what = "intent memory"

    def remember(self, cluster: str, brokers: list[int], intent: str, by: str, ttl_s: float | None = None,
                 now: float | None = None) -> None:
        """Brokers `intent` from now on (replacing what was remembered of them), for `ttl_s` or until re-added."""
        if intent not in INTENTS:
            raise ValueError(f"intent {intent!r} is not one of {INTENTS}")
        now = time.time() if now is None else now
        until = None if ttl_s is None else now + ttl_s
        with self.engine.begin() as conn:
            self._forget(conn, cluster, brokers)
            for broker in brokers:
                conn.execute(broker_intents.insert().values(cluster=cluster, broker=broker, intent=intent,
                                                            since=now, until=until, by=by))

    def readd(self, cluster: str, brokers: list[int]) -> list[int]:
        """Forget the brokers' intents: later plans may use them fully again. The brokers that had one."""
        with self.engine.begin() as conn:
            return self._forget(conn, cluster, brokers)

    @staticmethod
    def _forget(conn: sa.Connection, cluster: str, brokers: list[int]) -> list[int]:
        where = (broker_intents.c.cluster == cluster) & broker_intents.c.broker.in_(brokers)
        had = sorted(conn.scalars(sa.select(broker_intents.c.broker).where(where)))
        conn.execute(broker_intents.delete().where(where))
        return had

    def active(self, cluster: str, now: float | None = None) -> list[BrokerIntent]:
        """The brokers' intents still in force, by broker id (expired ones are ignored, not deleted)."""
        now = time.time() if now is None else now
        query = (sa.select(broker_intents).where(broker_intents.c.cluster == cluster)
                 .where(broker_intents.c.until.is_(None) | (broker_intents.c.until > now))
                 .order_by(broker_intents.c.broker))
        with self.engine.connect() as conn:
            return [BrokerIntent(r.broker, r.intent, r.since, r.until, r.by) for r in conn.execute(query)]

    def set_maintenance(self, cluster: str, on: bool, reason: str = "", by: str = "", now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            conn.execute(maintenance.delete().where(maintenance.c.cluster == cluster))
            if on:
                conn.execute(maintenance.insert().values(cluster=cluster, since=now, reason=reason, by=by))

    def maintenance(self, cluster: str) -> Maintenance | None:
        """The cluster's maintenance switch when it is on, else None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(maintenance).where(maintenance.c.cluster == cluster)).first()
        return None if row is None else Maintenance(row.since, row.reason, row.by)

    def set_self_healing(self, cluster: str, kinds: list[str], on: bool, reason: str = "", by: str = "",
                         now: float | None = None) -> None:
        """Switch self-healing of the anomaly `kinds` on or off; switching off again keeps the first `since`."""
        now = time.time() if now is None else now
        off = self.self_healing_off(cluster)
        with self.engine.begin() as conn:
            if on:
                conn.execute(self_healing_off.delete().where(
                    (self_healing_off.c.cluster == cluster) & self_healing_off.c.kind.in_(kinds)))
                return
            for kind in sorted(set(kinds) - set(off)):
                conn.execute(self_healing_off.insert().values(cluster=cluster, kind=kind, since=now, reason=reason,
                                                              by=by))

    def self_healing_off(self, cluster: str) -> dict[str, SelfHealingOff]:
        """The anomaly kinds whose self-healing is switched off on the cluster."""
        query = sa.select(self_healing_off).where(self_healing_off.c.cluster == cluster)
        with self.engine.connect() as conn:
            return {r.kind: SelfHealingOff(r.kind, r.since, r.reason, r.by) for r in conn.execute(query)}
