"""The declared schema. Alembic migrations must produce exactly this (tested on both databases).

Timestamps are stored as integer milliseconds since the Unix epoch (``EpochMs``): the same
type, ordering and arithmetic on SQLite and PostgreSQL, and no time-zone surprises.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)

from .schema_audit import audit_events as audit_events

# the notification outbox and alert channels, declared on the same metadata (a module of
# their own for size); their names are importable from here as from every other table
from .schema_notify import alert_channels as alert_channels
from .schema_notify import notification_deliveries as notification_deliveries
from .schema_notify import notifications as notifications
from .schema_people import invitations as invitations
from .schema_people import memberships as memberships
from .schema_people import user_sessions as user_sessions
from .schema_people import users as users
from .schema_types import EpochMs as EpochMs
from .schema_types import metadata as metadata
from .schema_types import partial_index

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
    # The key before the last rotation, sealed, still signing beside the current one until
    # previous_signature_expires_at (migration 0011; NULL when never rotated).
    Column("previous_signature_key", String(128), nullable=True),
    Column("previous_signature_expires_at", EpochMs, nullable=True),
    # The secret of the environment's slug ping URLs (/ping/<ping_key>/<job name>), made
    # when its first heartbeat job is defined (migration 0005).
    Column("ping_key", String(64), nullable=True),
    Index("uq_environments_ping_key", "ping_key", unique=True),
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
    # read, operator, editor, worker or full (domain/permissions.py; migration 0010)
    Column("scope", String(16), nullable=False, server_default="full"),
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
    # command jobs: {"host": ...} or {"tags": [...], "mode": "any"} (migration 0006)
    Column("target", JSON, nullable=True),
    # Notification state: NULL (no run ended yet), "ok" or "failing" (SPEC 4 turns).
    Column("health", String(16), nullable=True),
    Column("last_run_at", EpochMs, nullable=True),
    Column("next_run_at", EpochMs, nullable=True),
    Column("created_at", EpochMs, nullable=False),
    Column("updated_at", EpochMs, nullable=False),
    # Alert rules (NULL: off; alert_after_failures NULL means 1) and their state (migration
    # 0005, domain/alerts.py). success_due_at: when the no-success alert is due (NULL: no
    # rule, or already sent for the current window); the reaper looks it up.
    Column("alert_after_failures", Integer, nullable=True),
    Column("max_duration_seconds", Integer, nullable=True),
    Column("success_within_seconds", Integer, nullable=True),
    Column("pause_after_failures", Integer, nullable=True),
    Column("paused_reason", Text, nullable=True),
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    Column("last_success_at", EpochMs, nullable=True),
    Column("success_due_at", EpochMs, nullable=True),
    # Heartbeat jobs (type "heartbeat", migration 0005): the ping window after each tick,
    # and the secret of the job's ping URL (/ping/<uuid>).
    Column("grace_seconds", Integer, nullable=True),
    Column("ping_uuid", String(36), nullable=True),
    # Alert routing (migration 0005): the names of the environment's channels the job's
    # notices go to (NULL: all of them), and reminders while failing (remind_at: the next).
    Column("channels", JSON, nullable=True),
    Column("remind_every_seconds", Integer, nullable=True),
    Column("remind_at", EpochMs, nullable=True),
    # Scheduling controls (migration 0004): per-tick jitter, a timed pause, ticks to skip.
    Column("jitter_seconds", Integer, nullable=False, server_default=text("0")),
    Column("paused_until", EpochMs, nullable=True),
    Column("skip_next", Integer, nullable=False, server_default=text("0")),
    Column("crons", JSON, nullable=True),  # more expressions (a list); NULL: none
    # overlap policy ("skip" | "allow" | "buffer_one"); NULL: from ``blocking`` (old rows)
    Column("overlap", String(16), nullable=True),
    Column("max_concurrency", Integer, nullable=True),
    # chains (issue 21, migration 0008): {"jobs": [names], "on": ..., "within_seconds": ...}
    # (domain/chains.py); NULL: the job runs after no other job
    Column("after", JSON(none_as_null=True), nullable=True),
    UniqueConstraint("environment_id", "name"),
    Index("uq_jobs_ping_uuid", "ping_uuid", unique=True),
    # The ticker's only query: due, unpaused jobs by next_run_at (paused jobs have NULL).
    Index("ix_jobs_next_run_at", "next_run_at"),
    Index("ix_jobs_success_due_at", "success_due_at"),
    Index("ix_jobs_remind_at", "remind_at"),
    # every end of a run looks up the jobs that run after others (few): a small index
    partial_index(
        "ix_jobs_after",
        "environment_id",
        sqlite_where="after IS NOT NULL",
        postgresql_where="after IS NOT NULL",
    ),
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
    # Which worker or agent claimed the run (its x-schedo-worker-id; migration 0006).
    Column("worker", String(200), nullable=True),
    # the job's target when the run was created (domain/targets.py; migration 0006)
    Column("target_host", String(255), nullable=True),
    Column("target_tags", String(1000), nullable=True),
    # The JSON object a manual trigger carried (migration 0004); NULL without one.
    Column("payload", JSON, nullable=True),
    Index("ix_executions_job_id_id", "job_id", "id"),
    # Claims and the reaper look only at live rows; partial indexes keep them small.
    partial_index(
        "ix_executions_pending",
        "environment_id",
        "job_code",
        "due_at",
        sqlite_where="status = 'pending'",
        postgresql_where="status = 'pending'",
    ),
    partial_index(
        "ix_executions_pending_type",
        "job_type",
        "due_at",
        sqlite_where="status = 'pending'",
        postgresql_where="status = 'pending'",
    ),
    partial_index(
        "ix_executions_active_job",
        "job_id",
        "status",  # two columns: SQLite's planner then prefers it to (job_id, id) (0013)
        sqlite_where="status IN ('pending', 'running')",
        postgresql_where="status IN ('pending', 'running')",
    ),
    partial_index(
        "ix_executions_pickup_deadline",
        "pickup_deadline",
        sqlite_where="status = 'pending'",
        postgresql_where="status = 'pending'",
    ),
    partial_index(
        "ix_executions_run_deadline",
        "run_deadline",
        sqlite_where="status = 'running'",
        postgresql_where="status = 'running'",
    ),
    # The dashboard (migration 0012): the 24-hour counts by status from the index alone (the
    # instant leads: led by environment_id, SQLite's planner would pick it for any read of an
    # environment's runs), and the runs expired or missed lately ("what needs you").
    Index("ix_executions_scheduled", "scheduled_for", "environment_id", "status"),
    partial_index(
        "ix_executions_missed",
        "environment_id",
        "scheduled_for",
        sqlite_where="status IN ('expired', 'skipped')",
        postgresql_where="status IN ('expired', 'skipped')",
    ),
    sqlite_autoincrement=True,  # ids are never reused (migration 0003)
)

# Exactly once per tick: the database refuses a second execution of the same instant, per
# host for a target of mode "all" (one run per agent's host; migration 0007). The host is
# COALESCEd: NULLs are distinct in a unique index, so a plain column would let every
# untargeted run be inserted twice.
TICK_KEY = (
    executions.c.job_id,
    executions.c.source,
    executions.c.scheduled_for,
    executions.c.attempt,
    func.coalesce(executions.c.target_host, literal_column("''")),
)
Index("uq_executions_tick", *TICK_KEY, unique=True)

# Chains (issue 21; migration 0008; domain/chains.py): which upstream runs caused a run of
# a downstream job. Exactly once per upstream end: the unique key (downstream job, upstream
# run) is written in the transaction that creates the downstream run. ``cause_end`` is the
# upstream run's end time (the next firing passes over ends no newer than it). Rows go with
# either run (ON DELETE CASCADE, and explicitly in storage/cascade.py and retention).
execution_causes = Table(
    "execution_causes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", Integer, nullable=False),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column(
        "execution_id",
        Integer,
        ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("cause_job_id", Integer, nullable=False),
    Column(
        "cause_id",
        Integer,
        ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("cause_end", EpochMs, nullable=False),
    Column("created_at", EpochMs, nullable=False),
    UniqueConstraint("job_id", "cause_id", name="uq_execution_causes_cause"),
    Index("ix_execution_causes_execution_id", "execution_id"),
    Index("ix_execution_causes_cause_id", "cause_id"),
    Index("ix_execution_causes_job_cause_job", "job_id", "cause_job_id", "cause_end"),
    sqlite_autoincrement=True,
)

# Live output of runs (issue 21; migration 0006): lines a worker (ctx.log, captured logging)
# or an agent (the command's output) sent while the run ran, in arrival order (id). Capped per
# run (services/live.py); the cut is a last line of stream "cut". Deleted with their run.
execution_logs = Table(
    "execution_logs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "execution_id",
        Integer,
        ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("environment_id", Integer, nullable=False),
    Column("at", EpochMs, nullable=False),
    Column("stream", String(16), nullable=False),
    Column("line", Text, nullable=False),
    Index("ix_execution_logs_execution_id_id", "execution_id", "id"),
    sqlite_autoincrement=True,
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
    # what an agent announced (migration 0007): its host, its tags sorted and comma-joined;
    # NULL for sdk workers. Target mode "all" runs once per connected host (domain/targets).
    Column("agent_host", String(255), nullable=True),
    Column("agent_tags", String(1000), nullable=True),
)
