"""Baseline: the store's schema as kafka-medic wrote it before Alembic (commit 9742a13), from any earlier state.

Every table of every store part, its DDL frozen here (not imported from the live table objects, which
later revisions will change). A database written by an earlier kafka-medic is brought here too: the
hand-written `schema_versions` steps of the metrics store are carried over, each applied only when its
change is missing (0 -> 1: clusters by Kafka cluster id; 1 -> 2: the window aggregate tables, created
with every other missing table), and `schema_versions` is left at each part's last version so a
kafka-medic of the previous release still opens the store. An empty database gets every table.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The last schema_versions of each part before Alembic: only the metrics store had steps.
SCHEMA_VERSIONS = {
    "metrics store": 2, "executor journal": 0, "action log": 0, "anomaly log": 0, "cluster status": 0,
    "model snapshots": 0, "intent memory": 0,
}

SCHEMA = sa.MetaData()

sa.Table(
    "broker_intents",
    SCHEMA,
    sa.Column("cluster", sa.String(length=255), nullable=False),
    sa.Column("broker", sa.Integer(), nullable=False),
    sa.Column("intent", sa.String(length=32), nullable=False),
    sa.Column("since", sa.Double(), nullable=False),
    sa.Column("until", sa.Double(), nullable=True),
    sa.Column("by", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("cluster", "broker"),
)

sa.Table(
    "cluster_maintenance",
    SCHEMA,
    sa.Column("cluster", sa.String(length=255), nullable=False),
    sa.Column("since", sa.Double(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("by", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("cluster"),
)

sa.Table(
    "clusters",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("name", sa.String(length=255), nullable=False),
    sa.Column("kafka_cluster_id", sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("name", "kafka_cluster_id", name="uq_clusters_name_kafka_cluster_id"),
)

sa.Table(
    "detector_anomalies",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("cluster", sa.String(length=255), nullable=False),
    sa.Column("key", sa.String(length=512), nullable=False),
    sa.Column("kind", sa.String(length=64), nullable=False),
    sa.Column("severity", sa.String(length=16), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("details", sa.Text(), nullable=False),
    sa.Column("brokers", sa.Text(), nullable=False),
    sa.Column("first_seen", sa.Double(), nullable=False),
    sa.Column("last_seen", sa.Double(), nullable=False),
    sa.Column("resolved_at", sa.Double(), nullable=True),
    sa.Column("alerted_at", sa.Double(), nullable=True),
    sa.Column("acted_at", sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("detector_anomalies_open", "cluster", "resolved_at", "key"),
)

sa.Table(
    "detector_model_snapshot",
    SCHEMA,
    sa.Column("cluster", sa.String(length=255), nullable=False),
    sa.Column("at", sa.Double(), nullable=False),
    sa.Column("arrays", sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint("cluster"),
)

sa.Table(
    "detector_status",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("cluster", sa.String(length=255), nullable=False),
    sa.Column("at", sa.Double(), nullable=False),
    sa.Column("latest", sa.Boolean(), nullable=False),
    sa.Column("brokers_alive", sa.Integer(), nullable=False),
    sa.Column("brokers_dead", sa.Integer(), nullable=False),
    sa.Column("under_replicated", sa.Integer(), nullable=False),
    sa.Column("offline", sa.Integer(), nullable=False),
    sa.Column("balancedness", sa.Double(), nullable=False),
    sa.Column("disk_max_pct", sa.Double(), nullable=False),
    sa.Column("disk_mean_pct", sa.Double(), nullable=False),
    sa.Column("nw_in_max_pct", sa.Double(), nullable=False),
    sa.Column("nw_in_mean_pct", sa.Double(), nullable=False),
    sa.Column("nw_out_max_pct", sa.Double(), nullable=False),
    sa.Column("nw_out_mean_pct", sa.Double(), nullable=False),
    sa.Column("cpu_max_pct", sa.Double(), nullable=False),
    sa.Column("cpu_mean_pct", sa.Double(), nullable=False),
    sa.Column("windows", sa.Integer(), nullable=False),
    sa.Column("valid_windows", sa.Integer(), nullable=False),
    sa.Column("valid_partition_ratio", sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("detector_status_history", "cluster", "at"),
    sa.Index("detector_status_latest", "latest", "cluster"),
)

sa.Table(
    "executor_executions",
    SCHEMA,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("cluster", sa.String(length=255), nullable=False),
    sa.Column("proposal_hash", sa.String(length=64), nullable=False),
    sa.Column("proposal", sa.Text(), nullable=False),
    sa.Column("options", sa.Text(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("phase", sa.String(length=32), nullable=False),
    sa.Column("message", sa.Text(), nullable=True),
    sa.Column("started_at", sa.Double(), nullable=False),
    sa.Column("finished_at", sa.Double(), nullable=True),
    sa.Column("owner_host", sa.String(length=255), nullable=True),
    sa.Column("owner_pid", sa.Integer(), nullable=True),
    sa.Column("heartbeat", sa.Double(), nullable=True),
    sa.Column("stop_requested", sa.Boolean(), nullable=False),
    sa.Column("batches", sa.Integer(), nullable=False),
    sa.Column("report", sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_executor_executions_cluster", "cluster"),
)

sa.Table(
    "executor_locks",
    SCHEMA,
    sa.Column("cluster", sa.String(length=255), nullable=False),
    sa.Column("execution_id", sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint("cluster"),
)

sa.Table(
    "notify_actions",
    SCHEMA,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("cluster", sa.String(length=255), nullable=False),
    sa.Column("action", sa.String(length=64), nullable=False),
    sa.Column("why", sa.Text(), nullable=False),
    sa.Column("approved_by", sa.String(length=255), nullable=False),
    sa.Column("moves_planned", sa.Integer(), nullable=False),
    sa.Column("moves_done", sa.Integer(), nullable=False),
    sa.Column("bytes_moved", sa.BigInteger(), nullable=False),
    sa.Column("outcome", sa.String(length=32), nullable=False),
    sa.Column("started_at", sa.Double(), nullable=False),
    sa.Column("finished_at", sa.Double(), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("run", sa.String(length=512), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_notify_actions_cluster", "cluster"),
)

sa.Table(
    "aggregation_progress",
    SCHEMA,
    sa.Column("cluster_id", sa.Integer(), nullable=False),
    sa.Column("window_s", sa.Double(), nullable=False),
    sa.Column("since", sa.Double(), nullable=False),
    sa.Column("until", sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(["cluster_id"], ["clusters.id"]),
    sa.PrimaryKeyConstraint("cluster_id"),
)

sa.Table(
    "broker_samples",
    SCHEMA,
    sa.Column("cluster_id", sa.Integer(), nullable=False),
    sa.Column("ts", sa.Double(), nullable=False),
    sa.Column("broker", sa.Integer(), nullable=False),
    sa.Column("source", sa.String(length=32), nullable=False),
    sa.Column("alive", sa.Boolean(), nullable=False),
    sa.Column("bytes_in", sa.Double(), nullable=True),
    sa.Column("bytes_out", sa.Double(), nullable=True),
    sa.Column("replication_bytes_in", sa.Double(), nullable=True),
    sa.Column("replication_bytes_out", sa.Double(), nullable=True),
    sa.Column("produce_requests", sa.Double(), nullable=True),
    sa.Column("fetch_requests", sa.Double(), nullable=True),
    sa.Column("request_handler_idle", sa.Double(), nullable=True),
    sa.Column("cpu", sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(["cluster_id"], ["clusters.id"]),
    sa.PrimaryKeyConstraint("cluster_id", "ts", "broker", "source"),
)

sa.Table(
    "executor_tasks",
    SCHEMA,
    sa.Column("execution_id", sa.String(length=64), nullable=False),
    sa.Column("topic", sa.String(length=255), nullable=False),
    sa.Column("partition", sa.Integer(), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("task", sa.Text(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("batch", sa.Integer(), nullable=True),
    sa.Column("submissions", sa.Integer(), nullable=False),
    sa.Column("submitted_at", sa.Double(), nullable=True),
    sa.Column("finished_at", sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(["execution_id"], ["executor_executions.id"]),
    sa.PrimaryKeyConstraint("execution_id", "topic", "partition"),
)

sa.Table(
    "executor_throttles",
    SCHEMA,
    sa.Column("execution_id", sa.String(length=64), nullable=False),
    sa.Column("resource", sa.String(length=8), nullable=False),
    sa.Column("name", sa.String(length=255), nullable=False),
    sa.Column("config", sa.String(length=64), nullable=False),
    sa.Column("original", sa.Text(), nullable=True),
    sa.Column("applied", sa.Text(), nullable=True),
    sa.Column("cleared", sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(["execution_id"], ["executor_executions.id"]),
    sa.PrimaryKeyConstraint("execution_id", "resource", "name", "config"),
)

sa.Table(
    "partition_samples",
    SCHEMA,
    sa.Column("cluster_id", sa.Integer(), nullable=False),
    sa.Column("ts", sa.Double(), nullable=False),
    sa.Column("topic", sa.String(length=255), nullable=False),
    sa.Column("partition", sa.Integer(), nullable=False),
    sa.Column("broker", sa.Integer(), nullable=False),
    sa.Column("source", sa.String(length=32), nullable=False),
    sa.Column("leader", sa.Boolean(), nullable=False),
    sa.Column("reassigning", sa.Boolean(), nullable=False),
    sa.Column("size", sa.Double(), nullable=True),
    sa.Column("bytes_in", sa.Double(), nullable=True),
    sa.Column("bytes_out", sa.Double(), nullable=True),
    sa.Column("messages_in", sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(["cluster_id"], ["clusters.id"]),
    sa.PrimaryKeyConstraint("cluster_id", "ts", "topic", "partition", "broker", "source"),
)

# The raw rows an aggregated window keeps: partition_samples' columns.
SCHEMA.tables["partition_samples"].to_metadata(SCHEMA, name="partition_samples_kept")

sa.Table(
    "partition_windows",
    SCHEMA,
    sa.Column("cluster_id", sa.Integer(), nullable=False),
    sa.Column("start", sa.Double(), nullable=False),
    sa.Column("topic", sa.String(length=255), nullable=False),
    sa.Column("partition", sa.Integer(), nullable=False),
    sa.Column("samples", sa.Integer(), nullable=False),
    sa.Column("bytes_in_sum", sa.Double(), nullable=True),
    sa.Column("bytes_out_sum", sa.Double(), nullable=True),
    sa.Column("bytes_out_samples", sa.Integer(), nullable=False),
    sa.Column("messages_in_sum", sa.Double(), nullable=True),
    sa.Column("messages_in_samples", sa.Integer(), nullable=False),
    sa.Column("leader_samples", sa.Integer(), nullable=False),
    sa.Column("unrated_samples", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["cluster_id"], ["clusters.id"]),
    sa.PrimaryKeyConstraint("cluster_id", "start", "topic", "partition"),
)

# Each part's schema version before Alembic: kept (not dropped) for the previous release's kafka-medic.
schema_versions = sa.Table(
    "schema_versions",
    SCHEMA,
    sa.Column("part", sa.String(length=64), primary_key=True),
    sa.Column("version", sa.Integer(), nullable=False),
)


def upgrade() -> None:
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    if inspector.has_table("clusters") and "kafka_cluster_id" not in {
        c["name"] for c in inspector.get_columns("clusters")
    }:
        _clusters_by_kafka_id(conn)
    SCHEMA.create_all(conn, checkfirst=True)
    recorded = set(conn.scalars(sa.select(schema_versions.c.part)))
    for part, version in SCHEMA_VERSIONS.items():
        if part in recorded:
            conn.execute(schema_versions.update().where(schema_versions.c.part == part).values(version=version))
        else:
            conn.execute(schema_versions.insert().values(part=part, version=version))


def downgrade() -> None:
    """Below the baseline there is no kafka-medic schema: every table goes, with its rows."""
    SCHEMA.drop_all(op.get_bind(), checkfirst=True)


def _clusters_by_kafka_id(conn: sa.Connection) -> None:
    """schema_versions 0 -> 1 of the metrics store: `clusters` gains kafka_cluster_id, and a name is
    unique per Kafka cluster id only.

    SQLite cannot drop a constraint, so there the (small) table is rebuilt under the same ids; the
    sample tables refer to it by name and keep working.
    """
    if conn.dialect.name == "sqlite":
        rebuilt = SCHEMA.tables["clusters"].to_metadata(sa.MetaData(), name="clusters_migrating")
        rebuilt.create(conn)
        old: sa.Select = sa.select(sa.column("id"), sa.column("name")).select_from(sa.table("clusters"))
        conn.execute(rebuilt.insert().from_select(["id", "name"], old))
        conn.execute(sa.text("DROP TABLE clusters"))
        conn.execute(sa.text("ALTER TABLE clusters_migrating RENAME TO clusters"))
        return
    conn.execute(sa.text("ALTER TABLE clusters ADD COLUMN kafka_cluster_id VARCHAR(255)"))
    for unique in sa.inspect(conn).get_unique_constraints("clusters"):
        if unique["column_names"] == ["name"] and unique["name"]:
            conn.execute(sa.text(f'ALTER TABLE clusters DROP CONSTRAINT "{unique["name"]}"'))
    conn.execute(
        sa.text("ALTER TABLE clusters ADD CONSTRAINT uq_clusters_name_kafka_cluster_id UNIQUE (name, kafka_cluster_id)")
    )
