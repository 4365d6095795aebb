"""scheduling controls (issue 20): jitter, timed pause, skips, trigger payloads

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


# Plain ALTER TABLE ADD/DROP COLUMN on both databases (SQLite >= 3.35 drops columns): no
# table rebuild, so SQLite's AUTOINCREMENT (migration 0003) and every row stay as they are.
def upgrade() -> None:
    op.add_column("jobs", sa.Column("jitter_seconds", sa.Integer(), nullable=False,
                                    server_default=sa.text("0")))
    op.add_column("jobs", sa.Column("paused_until", sa.BigInteger(), nullable=True))
    op.add_column("jobs", sa.Column("skip_next", sa.Integer(), nullable=False,
                                    server_default=sa.text("0")))
    op.add_column("executions", sa.Column("payload", sa.JSON(), nullable=True))
    op.add_column("jobs", sa.Column("crons", sa.JSON(), nullable=True))
    op.add_column("jobs", sa.Column("overlap", sa.String(16), nullable=True))
    op.add_column("jobs", sa.Column("max_concurrency", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("executions", "payload")
    op.drop_column("jobs", "crons")
    op.drop_column("jobs", "overlap")
    op.drop_column("jobs", "max_concurrency")
    for column in ("skip_next", "paused_until", "jitter_seconds"):
        op.drop_column("jobs", column)
