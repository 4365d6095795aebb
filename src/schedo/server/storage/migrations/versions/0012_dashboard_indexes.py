"""the dashboard's indexes (issues 18 and 22): the pages a team keeps open read an index range,
never the environment's runs

- ``ix_executions_env_scheduled`` (environment_id, scheduled_for, status): the overview's
  runs of the last 24 hours by status, read from the index alone (a range of one day).
- ``ix_executions_missed`` (environment_id, scheduled_for), partial on status expired or
  skipped: "what needs you"'s runs expired or missed in the last 24 hours, a few rows.

Revision "0012" revises "0009" on its branch; at merge it is chained after 0010/0011.

Revision ID: 0012
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None

MISSED = "status IN ('expired', 'skipped')"


def upgrade() -> None:
    op.create_index("ix_executions_env_scheduled", "executions",
                    ["environment_id", "scheduled_for", "status"])
    op.create_index("ix_executions_missed", "executions", ["environment_id", "scheduled_for"],
                    sqlite_where=sa.text(MISSED), postgresql_where=sa.text(MISSED))


def downgrade() -> None:
    op.drop_index("ix_executions_missed", table_name="executions")
    op.drop_index("ix_executions_env_scheduled", table_name="executions")
