"""the live runs of a job from a small index (issue 18)

``ix_executions_active_job`` becomes (job_id, status), still partial on status pending or
running. On (job_id) alone, SQLite's planner (no statistics) rated it no better than
``ix_executions_job_id_id`` and walked the job's whole history for its live runs, on every end
of a run (buffered runs, chains) and every tick of a job an overlap policy limits. With the
status as a second column, and the index's condition written in the queries
(``run_insert.is_active``), the read is a few index entries.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('pending', 'running')"
NAME = "ix_executions_active_job"


def _create(columns: list[str]) -> None:
    op.create_index(NAME, "executions", columns,
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))


def upgrade() -> None:
    op.drop_index(NAME, table_name="executions")
    _create(["job_id", "status"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="executions")
    _create(["job_id"])
