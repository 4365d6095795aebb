"""The declared schema. Alembic migrations must produce exactly this (tested on both databases).

Timestamps are stored as integer milliseconds since the Unix epoch (``EpochMs``): the same
type, ordering and arithmetic on SQLite and PostgreSQL, and no time-zone surprises.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

from ..domain.timefmt import from_ms, to_ms


class EpochMs(TypeDecorator[datetime]):
    """Aware datetime <-> BIGINT milliseconds since the epoch."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, int):
            return value
        return to_ms(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_ms(int(value))


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Server-wide key/value facts (the API key pepper, the schema's owner process, …).
server_meta = Table(
    "server_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", EpochMs, nullable=False),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)

org_emails = Table(
    "org_emails",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("email", String(320), nullable=False),
    Column("created_at", EpochMs, nullable=False),
    UniqueConstraint("organization_id", "email"),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)

environments = Table(
    "environments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(200), nullable=False),
    Column("webhook_signature_key", String(128), nullable=False),
    Column("created_at", EpochMs, nullable=False),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # NULL for admin (organisation-wide) keys.
    Column(
        "environment_id",
        Integer,
        ForeignKey("environments.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    Column("name", String(200), nullable=False),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("digest", String(64), nullable=False),
    Column("admin", Boolean, nullable=False),
    Column("internal", Boolean, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("created_at", EpochMs, nullable=False),
    Column("revoked_at", EpochMs, nullable=True),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "environment_id",
        Integer,
        ForeignKey("environments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(200), nullable=False),
    Column("type", String(16), nullable=False),
    Column("cron_expression", String(256), nullable=False),
    Column("timezone", String(64), nullable=False),
    # Anchor of ``@every`` schedules (set when the expression is defined or changed).
    Column("anchor_at", EpochMs, nullable=False),
    Column("catch_up", String(16), nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("muted", Boolean, nullable=False),
    Column("blocking", Boolean, nullable=False),
    Column("timeout_seconds", Integer, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("retry_count", Integer, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("webhook_url", String(2048), nullable=True),
    Column("command", Text, nullable=True),
    Column("status", String(16), nullable=False),
    # Notification state: NULL (no run ended yet), "ok" or "failing" (SPEC 4 turns).
    Column("health", String(16), nullable=True),
    Column("last_run_at", EpochMs, nullable=True),
    Column("next_run_at", EpochMs, nullable=True),
    Column("created_at", EpochMs, nullable=False),
    Column("updated_at", EpochMs, nullable=False),
    # Scheduling controls (migration 0004): per-tick jitter, a timed pause, ticks to skip.
    Column("jitter_seconds", Integer, nullable=False, server_default=text("0")),
    Column("paused_until", EpochMs, nullable=True),
    Column("skip_next", Integer, nullable=False, server_default=text("0")),
    Column("crons", JSON, nullable=True),  # more expressions (a list); NULL: none
    # overlap policy ("skip" | "allow" | "buffer_one"); NULL: from ``blocking`` (old rows)
    Column("overlap", String(16), nullable=True),
    Column("max_concurrency", Integer, nullable=True),
    UniqueConstraint("environment_id", "name"),
    # The ticker's only query: due, unpaused jobs by next_run_at (paused jobs have NULL).
    Index("ix_jobs_next_run_at", "next_run_at"),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)

executions = Table(
    "executions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("environment_id", Integer, nullable=False),
    Column("job_code", String(200), nullable=False),
    Column("job_type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    # "schedule" for ticks (and their retries and catch-up records), "manual" for triggers.
    Column("source", String(16), nullable=False),
    Column("scheduled_for", EpochMs, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("due_at", EpochMs, nullable=False),
    Column("pickup_deadline", EpochMs, nullable=True),
    Column("run_deadline", EpochMs, nullable=True),
    Column("timeout_seconds", Integer, nullable=False),
    Column("pick_up_time", EpochMs, nullable=True),
    Column("start_time", EpochMs, nullable=True),
    Column("end_time", EpochMs, nullable=True),
    Column("duration", BigInteger, nullable=True),
    Column("output", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("metadata", JSON, nullable=False),
    Column("created_at", EpochMs, nullable=False),
    # The JSON object a manual trigger carried (migration 0004); NULL without one.
    Column("payload", JSON, nullable=True),
    # Exactly once per tick: the database refuses a second execution of the same instant.
    UniqueConstraint("job_id", "source", "scheduled_for", "attempt", name="uq_executions_tick"),
    Index("ix_executions_job_id_id", "job_id", "id"),
    # Claims and the reaper look only at live rows; partial indexes keep them small.
    Index(
        "ix_executions_pending",
        "environment_id",
        "job_code",
        "due_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index(
        "ix_executions_pending_type",
        "job_type",
        "due_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index(
        "ix_executions_active_job",
        "job_id",
        sqlite_where=text("status IN ('pending', 'running')"),
        postgresql_where=text("status IN ('pending', 'running')"),
    ),
    Index(
        "ix_executions_pickup_deadline",
        "pickup_deadline",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index(
        "ix_executions_run_deadline",
        "run_deadline",
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)

# Workers connected now (SPEC 2.3 connections_count), shared by every server process. A worker
# is connected while its heartbeat (refreshed while it polls or holds a stream) is under 30 s
# old; it counts for every job code it named (worker_connections). The codes are written when
# first named and then only rarely (last_seen there serves pruning), so a worker serving
# thousands of jobs costs one small write per refresh, not one per code.
worker_connections = Table(
    "worker_connections",
    metadata,
    Column("environment_id", Integer, primary_key=True),
    Column("job_code", String(200), primary_key=True),
    Column("worker_id", String(200), primary_key=True),
    Column("last_seen", EpochMs, nullable=False),
)

worker_heartbeats = Table(
    "worker_heartbeats",
    metadata,
    Column("environment_id", Integer, primary_key=True),
    Column("worker_id", String(200), primary_key=True),
    Column("last_seen", EpochMs, nullable=False),
)

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
    Index(
        "ix_notifications_pending_fanout",
        "id",
        sqlite_where=text("fanned_out = 0"),
        postgresql_where=text("fanned_out = false"),
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
    Index(
        "ix_notification_deliveries_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)
