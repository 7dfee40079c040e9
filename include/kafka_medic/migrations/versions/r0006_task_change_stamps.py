"""Each write of an execution's tasks is numbered, and stamps the tasks it changes with its number.

The move loop reads every task's state each poll; at 300,000 tasks that read took 2.4 s of a 4.1 s
poll (bench/executor_poll.py). `executor_executions.task_changes` counts the writes of its tasks and
`executor_tasks.changed` holds the number of the write that last changed each, indexed with the
execution, so a reader that kept the tasks reads only those changed since (`Journal.tasks`). Rows of
earlier revisions start at 0: a first read reads every task anyway.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("executor_executions", sa.Column("task_changes", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("executor_tasks", sa.Column("changed", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_executor_tasks_changed", "executor_tasks", ["execution_id", "changed"])


def downgrade() -> None:
    op.drop_index("ix_executor_tasks_changed", table_name="executor_tasks")
    with op.batch_alter_table("executor_tasks") as batch:  # SQLite: the table copied without the column
        batch.drop_column("changed")
    with op.batch_alter_table("executor_executions") as batch:
        batch.drop_column("task_changes")
