"""The action log: every action kafka-medic ran, in the store and on a Kafka topic, plus a summary paragraph.

As DoctorKafka's action report topic, the Kafka copy lets other tools (dashboards, audit pipelines)
follow what the healer did to a cluster without access to kafka-medic's database; the store copy is
what kafka-medic itself and the Airflow UI read. The value is JSON, keyed by cluster, written with
acks=all so an acknowledged record survives a broker failure.

The topic is created on first use with an explicit replica assignment over live brokers only: a heal
runs while a broker is dead, and the controller may still count a broker killed moments ago as
registered, so leaving the placement to it could put a replica on the dead broker for good.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_medic.errors import MedicError
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.state import ClusterState
from kafka_medic.optimizer.summary import format_mb
from kafka_medic.storage import StoreTables, inserted_id

ACTIONS_TOPIC = "__kafka_medic_actions"
TIMEOUT_S = 30
CREATE_ATTEMPTS, CREATE_TIMEOUT_S = 4, 15

metadata = sa.MetaData()

actions = sa.Table(
    "notify_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cluster", sa.String(255), nullable=False, index=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("why", sa.Text, nullable=False),  # JSON list of anomaly keys
    sa.Column("approved_by", sa.String(255), nullable=False),
    sa.Column("moves_planned", sa.Integer, nullable=False),
    sa.Column("moves_done", sa.Integer, nullable=False),
    sa.Column("bytes_moved", sa.BigInteger, nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("finished_at", sa.Double, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("run", sa.String(512), nullable=False),
)


@dataclass
class ActionRecord:
    """One executed (or refused) action; `why` holds the anomaly keys, `run` e.g. "dag_id/run_id"."""

    cluster: str
    action: str  # heal, rebalance, decommission...
    why: list[str]
    approved_by: str  # "alice (Slack U123)", "auto: <policy reason>"
    moves_planned: int
    moves_done: int
    bytes_moved: int
    outcome: str  # succeeded, failed, stopped, rejected
    started_at: float
    finished_at: float
    message: str = ""
    run: str = ""
    id: int | None = field(default=None, compare=False)

    @property
    def duration_s(self) -> float:
        return self.finished_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_s"] = round(self.duration_s, 1)
        return data

    @classmethod
    def from_execution_report(
        cls, report: dict[str, Any], action: str, why: list[str], approved_by: str, run: str = ""
    ) -> ActionRecord:
        """From the executor's report (`kafka_medic.executor.report.build_report`)."""
        return cls(
            cluster=report["cluster"],
            action=action,
            why=list(why),
            approved_by=approved_by,
            moves_planned=len(report["done"]) + len(report["undone"]),
            moves_done=len(report["done"]),
            bytes_moved=int(report["bytes_moved"]),
            outcome=report["status"],
            started_at=report["started_at"],
            finished_at=report["started_at"] + report["duration_s"],
            message=report.get("message") or "",
            run=run,
        )


class ActionLog(StoreTables):
    """The store copy; the schema is created on first use."""

    what = "action log"

    def write(self, record: ActionRecord) -> int:
        values = asdict(record)
        values.pop("id")
        values["why"] = json.dumps(record.why)
        with self.engine.begin() as conn:
            record.id = inserted_id(conn, actions.insert().values(**values))
        return record.id

    def recent(self, cluster: str | None = None, limit: int = 50) -> list[ActionRecord]:
        """The latest actions, newest first (of one cluster, or of all)."""
        query = sa.select(actions).order_by(actions.c.finished_at.desc(), actions.c.id.desc()).limit(limit)
        if cluster is not None:
            query = query.where(actions.c.cluster == cluster)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [ActionRecord(**{**row, "why": json.loads(row["why"])}) for row in rows]


def publish_action(config: ClusterConfig, record: ActionRecord, topic: str = ACTIONS_TOPIC) -> None:
    """Write the record to the cluster's action topic (created if missing), waiting for acks=all."""
    ensure_topic(config, topic)
    errors: list[KafkaError] = []
    producer = Producer({**config.confluent(), "acks": "all", "enable.idempotence": True,
                         "client.id": f"kafka-medic-{config.name}"})
    producer.produce(topic, key=record.cluster.encode(), value=json.dumps(record.to_dict()).encode(),
                     on_delivery=lambda err, _msg: errors.append(err) if err else None)
    if producer.flush(TIMEOUT_S) or errors:
        reason = errors[0].str() if errors else f"not acknowledged within {TIMEOUT_S}s"
        raise MedicError(f"writing the action record to {topic} on {config.bootstrap} failed: {reason}")


def ensure_topic(config: ClusterConfig, topic: str = ACTIONS_TOPIC) -> None:
    """Create the action topic (1 partition, so records stay in order) on live brokers unless it exists.

    Right after a broker dies, the cluster may still name it as the controller to send CreateTopics to,
    and the request then hangs: each attempt gets a fresh client (fresh metadata) and a bounded wait.
    """
    from kafka_medic.kafka.reader import read_cluster_state

    for attempt in range(1, CREATE_ATTEMPTS + 1):
        admin = AdminClient(config.confluent())
        try:
            if topic in admin.list_topics(timeout=TIMEOUT_S).topics:
                return
            replicas = live_replicas(read_cluster_state(config))
            new_topic = NewTopic(topic, num_partitions=1, replica_assignment=[replicas])
            admin.create_topics([new_topic], request_timeout=CREATE_TIMEOUT_S)[topic].result(CREATE_TIMEOUT_S + 5)
            return
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return
            failure = str(exc)
        except TimeoutError:
            failure = f"no answer within {CREATE_TIMEOUT_S + 5}s"
        if attempt == CREATE_ATTEMPTS:
            raise MedicError(f"creating the action topic {topic} on {config.bootstrap} failed "
                             f"({CREATE_ATTEMPTS} attempts): {failure}")


def live_replicas(state: ClusterState, replication: int = 3) -> list[int]:
    """min(`replication`, live brokers) live brokers: one per rack first, then the ones holding fewest replicas."""
    alive = state.alive_brokers
    if not alive:
        raise MedicError(f"no live broker on cluster {state.cluster_id or 'unknown'} to hold the action topic")
    load = Counter(b for p in state.partitions for b in p.replicas)
    chosen: list[int] = []
    for _ in range(min(replication, len(alive))):
        racks = {state.brokers[b].rack for b in chosen}
        chosen.append(min((b for b in alive if b not in chosen),
                          key=lambda b: (state.brokers[b].rack in racks, load[b], b)))
    return chosen


def record_action(
    record: ActionRecord, config: ClusterConfig | None = None, store_url: str | None = None, topic: str = ACTIONS_TOPIC
) -> str:
    """Write the record to the store and (with `config`) to the cluster's action topic; returns its summary."""
    with ActionLog(store_url) as log:
        log.write(record)
    if config is not None:
        publish_action(config, record, topic)
    return action_summary(record)


def action_summary(record: ActionRecord) -> str:
    """One paragraph for the end of the Airflow task log and for people reading the action log."""
    why = ", ".join(record.why) or "operator request"
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.started_at))
    text = (
        f"{record.action.capitalize()} on cluster {record.cluster} {record.outcome}: "
        f"{record.moves_done} of {record.moves_planned} partition moves done, {format_mb(record.bytes_moved / 2**20)} "
        f"moved in {_duration(record.duration_s)} (started {started}). Why: {why}. "
        f"Approved by {record.approved_by}."
    )
    if record.message:
        text += f" {record.message.rstrip('.')}."
    if record.run:
        text += f" Run: {record.run}."
    return text


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s" if minutes else f"{secs}s"
