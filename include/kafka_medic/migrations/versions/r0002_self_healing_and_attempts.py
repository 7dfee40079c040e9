"""Self-healing switched off per anomaly kind (intent memory) and remediation attempts per anomaly (anomaly log).

`self_healing_off`: Cruise Control admin's `disable_self_healing_for`, kept per cluster and kind.
`remediation_attempts`: each remediation started (or held back) for an anomaly, so the policy's
`max_attempts` per period can stop a remediation loop.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_healing_off",
        sa.Column("cluster", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("since", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("cluster", "kind"),
    )
    op.create_table(
        "remediation_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cluster", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("run", sa.String(length=512), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("held_back", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("remediation_attempts_by_key", "remediation_attempts", ["cluster", "key", "at"])


def downgrade() -> None:
    op.drop_index("remediation_attempts_by_key", table_name="remediation_attempts")
    op.drop_table("remediation_attempts")
    op.drop_table("self_healing_off")
