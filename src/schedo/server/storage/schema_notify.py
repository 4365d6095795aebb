"""The notification outbox and alert channels of the declared schema (split from schema.py for
size, on the same metadata; ``schema`` re-exports these tables)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .schema_types import EpochMs, metadata, partial_index

# The notification outbox (SPEC 4): one row per turn of a job (failing / recovered), written in
# the transaction that ended the run; deliveries are fanned out and sent by notify/.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("environment_id", Integer, nullable=False),
    Column("job_id", Integer, nullable=False),  # no FK: the record outlives a deleted job
    Column("job_name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # "failing" | "recovered"
    Column("execution_id", Integer, nullable=False),
    Column("execution_status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("scheduled_for", EpochMs, nullable=False),
    Column("error", Text, nullable=True),
    Column("output", Text, nullable=True),  # the start of the run's output
    Column("fanned_out", Boolean, nullable=False),
    Column("created_at", EpochMs, nullable=False),
    UniqueConstraint("execution_id", "kind"),
    Index("ix_notifications_org_id", "organization_id", "id"),
    partial_index(
        "ix_notifications_pending_fanout",
        "id",
        sqlite_where="fanned_out = 0",
        postgresql_where="fanned_out = false",
    ),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "notification_id",
        Integer,
        ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("channel", String(16), nullable=False),  # "email" | "webhook"
    Column("target", String(2048), nullable=False),
    Column("status", String(16), nullable=False),  # "pending" | "sent" | "failed"
    Column("tries", Integer, nullable=False),
    Column("next_attempt_at", EpochMs, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("sent_at", EpochMs, nullable=True),
    UniqueConstraint("notification_id", "channel", "target"),
    partial_index(
        "ix_notification_deliveries_due",
        "next_attempt_at",
        sqlite_where="status = 'pending'",
        postgresql_where="status = 'pending'",
    ),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)

# Where an environment's notices go (issue 19): "email" (addresses), "webhook" (a JSON POST
# signed like push requests) or "slack" (a Slack/Mattermost incoming webhook). Without any,
# notices go to the organisation's email list as before.
alert_channels = Table(
    "alert_channels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "environment_id",
        Integer,
        ForeignKey("environments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("addresses", JSON, nullable=True),  # email: the list of addresses
    Column("url", String(2048), nullable=True),  # webhook, slack
    Column("created_at", EpochMs, nullable=False),
    UniqueConstraint("environment_id", "name"),
    sqlite_autoincrement=True,
)
