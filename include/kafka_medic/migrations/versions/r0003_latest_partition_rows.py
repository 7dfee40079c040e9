"""Each replica's newest aggregated partition rows by kind, so a build up to now does not sort every kept row.

`partition_samples_latest`: per cluster incarnation, replica (topic, partition, broker, source) and kind
(newest, led, led_sized, followed_sized), the newest row of that kind among the rows aggregated windows
kept. Aggregation keeps it up to date; here it is built once from the kept rows already in the store.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from kafka_medic.metrics.store import refresh_latest

    latest = op.create_table(
        "partition_samples_latest",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("broker", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("leader", sa.Boolean(), nullable=False),
        sa.Column("reassigning", sa.Boolean(), nullable=False),
        sa.Column("size", sa.Double(), nullable=True),
        sa.Column("bytes_in", sa.Double(), nullable=True),
        sa.Column("bytes_out", sa.Double(), nullable=True),
        sa.Column("messages_in", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["cluster_id"], ["clusters.id"]),
        sa.PrimaryKeyConstraint("cluster_id", "topic", "partition", "broker", "source", "kind"),
    )
    # The kept rows as this revision finds them: the latest table's columns but its kind (the DDL frozen
    # here, as in 0001, not the live table objects, which later revisions may change).
    kept = sa.table("partition_samples_kept", *(sa.column(c.name, c.type) for c in latest.columns if c.name != "kind"))
    conn = op.get_bind()
    for cid in conn.scalars(sa.select(kept.c.cluster_id).distinct()).all():
        refresh_latest(conn, kept, kept.c.cluster_id == cid, latest)


def downgrade() -> None:
    op.drop_table("partition_samples_latest")
