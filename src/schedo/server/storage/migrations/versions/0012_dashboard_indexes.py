"""the dashboard's indexes (issues 18 and 22): the pages a team keeps open read an index range,
never the environment's runs

- ``ix_executions_scheduled`` (scheduled_for, environment_id, status): the overview's
  runs of the last 24 hours by status, read from the index alone (a range of one day). The
  instant leads, not the environment: SQLite's planner has no statistics, and an index led by
  environment_id, covering the status, is what it picks for any read of an environment's
  runs, e.g. the late pending runs, which then walked all of the environment's runs instead
  of the pending partial index.
- ``ix_executions_missed`` (environment_id, scheduled_for), partial on status expired or
  skipped: "what needs you"'s runs expired or missed in the last 24 hours, a few rows.

Revision "0012" revises "0009" on its branch; at merge it is chained after 0010/0011.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

MISSED = "status IN ('expired', 'skipped')"


def upgrade() -> None:
    op.create_index("ix_executions_scheduled", "executions",
                    ["scheduled_for", "environment_id", "status"])
    op.create_index("ix_executions_missed", "executions", ["environment_id", "scheduled_for"],
                    sqlite_where=sa.text(MISSED), postgresql_where=sa.text(MISSED))


def downgrade() -> None:
    op.drop_index("ix_executions_missed", table_name="executions")
    op.drop_index("ix_executions_scheduled", table_name="executions")
