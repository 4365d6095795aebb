"""chains, targets, live output and cancellation (issue 21)

- ``executions.worker``: which worker or agent claimed a run (nullable: older rows, push runs);
- ``execution_logs``: the live output of runs, deleted with them (ON DELETE CASCADE);
- ``jobs.target``, ``executions.target_host`` / ``target_tags``: where command jobs run.

The new run status ``cancelled`` is a value of the existing ``executions.status`` column.

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
    op.add_column("executions", sa.Column("worker", sa.String(200), nullable=True))
    op.add_column("executions", sa.Column("target_host", sa.String(255), nullable=True))
    op.add_column("executions", sa.Column("target_tags", sa.String(1000), nullable=True))
    op.add_column("jobs", sa.Column("target", sa.JSON, nullable=True))
    op.create_table(
        "execution_logs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "execution_id",
            sa.Integer,
            sa.ForeignKey("executions.id", ondelete="CASCADE",
                          name="fk_execution_logs_execution_id_executions"),
            nullable=False,
        ),
        sa.Column("environment_id", sa.Integer, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),  # EpochMs
        sa.Column("stream", sa.String(16), nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_execution_logs"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_execution_logs_execution_id_id", "execution_logs",
                    ["execution_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_execution_logs_execution_id_id", table_name="execution_logs")
    op.drop_table("execution_logs")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("target_tags")
        batch.drop_column("target_host")
        batch.drop_column("worker")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("target")
