"""alerts, channels and heartbeat jobs (issue 19)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Alert rules per job and their state (domain/alerts.py); every column is nullable or has a
# server default, so existing rows keep working.
_JOB_COLUMNS: list[tuple[str, Any, Any]] = [
    ("alert_after_failures", sa.Integer(), None),
    ("max_duration_seconds", sa.Integer(), None),
    ("success_within_seconds", sa.Integer(), None),
    ("pause_after_failures", sa.Integer(), None),
    ("paused_reason", sa.Text(), None),
    ("consecutive_failures", sa.Integer(), sa.text("0")),
    ("last_success_at", sa.BigInteger(), None),
    ("success_due_at", sa.BigInteger(), None),
]


def upgrade() -> None:
    for name, type_, default in _JOB_COLUMNS:
        op.add_column(
            "jobs",
            sa.Column(name, type_, nullable=default is None, server_default=default),
        )
    op.create_index("ix_jobs_success_due_at", "jobs", ["success_due_at"])
    # heartbeat jobs: unique secrets as unique indexes (SQLite cannot add constraints)
    op.add_column("jobs", sa.Column("grace_seconds", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("ping_uuid", sa.String(length=36), nullable=True))
    op.create_index("uq_jobs_ping_uuid", "jobs", ["ping_uuid"], unique=True)
    op.add_column("environments", sa.Column("ping_key", sa.String(length=64), nullable=True))
    op.create_index("uq_environments_ping_key", "environments", ["ping_key"], unique=True)
    # alert routing
    op.add_column("jobs", sa.Column("channels", sa.JSON(), nullable=True))
    op.add_column("jobs", sa.Column("remind_every_seconds", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("remind_at", sa.BigInteger(), nullable=True))
    op.create_index("ix_jobs_remind_at", "jobs", ["remind_at"])
    op.create_table(
        "alert_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("addresses", sa.JSON(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"],
                                name=op.f("fk_alert_channels_environment_id_environments"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_channels")),
        sa.UniqueConstraint("environment_id", "name",
                            name=op.f("uq_alert_channels_environment_id_name")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("alert_channels")
    op.drop_index("ix_jobs_remind_at", table_name="jobs")
    op.drop_index("uq_environments_ping_key", table_name="environments")
    with op.batch_alter_table("environments") as batch:
        batch.drop_column("ping_key")
    op.drop_index("uq_jobs_ping_uuid", table_name="jobs")
    op.drop_index("ix_jobs_success_due_at", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        for name in ("remind_at", "remind_every_seconds", "channels", "ping_uuid",
                     "grace_seconds"):
            batch.drop_column(name)
        for name, _, _ in reversed(_JOB_COLUMNS):
            batch.drop_column(name)
