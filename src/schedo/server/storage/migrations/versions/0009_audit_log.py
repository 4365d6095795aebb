"""the audit log (issue 22): ``audit_events``

Who (an API key, by id and name, and the way in: "api" or "dashboard") did what (created,
changed, paused, …) to which object (a job, a key, an environment), when, and the changed
fields' before/after as JSON ``{field: [before, after]}``. Ids never reused
(AUTOINCREMENT on SQLite, as migration 0003 gave every table).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("environment_id", sa.Integer, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor_key_id", sa.Integer, nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("object_kind", sa.String(32), nullable=False),
        sa.Column("object_id", sa.Integer, nullable=True),
        sa.Column("object_name", sa.String(200), nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_events_environment_id_id", "audit_events",
                    ["environment_id", "id"])
    op.create_index("ix_audit_events_object", "audit_events",
                    ["object_kind", "object_id", "id"])


def downgrade() -> None:
    op.drop_table("audit_events")
