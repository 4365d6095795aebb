"""chains: jobs that run after other jobs (issue 21, point 1)

- ``jobs.after``: the job's upstream jobs, the outcome that counts and the window
  (``{"jobs": [...], "on": ..., "within_seconds": ...}``; NULL: no chain);
- ``execution_causes``: which upstream runs caused a downstream run. Its unique key
  ``(job_id, cause_id)`` makes each upstream end cause at most one run of each downstream
  job, however many server processes record ends at once.

The new run source and trigger ``chain`` are values of existing columns.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("after", sa.JSON, nullable=True))
    op.create_index("ix_jobs_after", "jobs", ["environment_id"],
                    sqlite_where=sa.text("after IS NOT NULL"),
                    postgresql_where=sa.text("after IS NOT NULL"))
    op.create_table(
        "execution_causes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("environment_id", sa.Integer, nullable=False),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("execution_id", sa.Integer,
                  sa.ForeignKey("executions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("cause_job_id", sa.Integer, nullable=False),
        sa.Column("cause_id", sa.Integer,
                  sa.ForeignKey("executions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("cause_end", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("job_id", "cause_id", name="uq_execution_causes_cause"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_execution_causes_execution_id", "execution_causes", ["execution_id"])
    op.create_index("ix_execution_causes_cause_id", "execution_causes", ["cause_id"])
    op.create_index("ix_execution_causes_job_cause_job", "execution_causes",
                    ["job_id", "cause_job_id", "cause_end"])


def downgrade() -> None:
    op.drop_table("execution_causes")
    op.drop_index("ix_jobs_after", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("after")
