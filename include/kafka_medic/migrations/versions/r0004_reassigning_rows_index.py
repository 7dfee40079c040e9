"""An index of the partition rows flagged reassigning, so finding the partitions near a reassignment reads only those.

Builds of the load model and each window's aggregation ask which partitions had a reassigning row in a
range: a few rows among a day's millions of raw and kept rows (1% of partitions moved in a day is
~1% of the rows), which without this index is a scan of the whole range. A partial index on
(cluster_id, ts) where reassigning = true on both tables.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("partition_samples", "partition_samples_kept")


def upgrade() -> None:
    flagged = sa.column("reassigning", sa.Boolean) == sa.true()
    for table in TABLES:
        op.create_index(f"ix_{table}_reassigning", table, ["cluster_id", "ts"],
                        sqlite_where=flagged, postgresql_where=flagged)  # fmt: skip


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_reassigning", table_name=table)
