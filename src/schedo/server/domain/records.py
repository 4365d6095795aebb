"""Records the storage layer returns: plain frozen dataclasses, no behaviour, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

from .model import CatchUp, JobStatus, JobType, RunStatus, Source, Trigger


@dataclass(frozen=True, slots=True)
class Organization:
    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Environment:
    id: int
    organization_id: int
    name: str
    webhook_signature_key: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    organization_id: int
    environment_id: int | None  # None: admin (organisation-wide) key
    name: str
    prefix: str
    digest: str
    admin: bool
    internal: bool
    revoked: bool
    created_at: datetime
    scope: str = "full"  # read, operator, editor, worker or full (domain/permissions.py)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a definition asks for (already validated)."""

    name: str
    type: JobType
    cron_expression: str
    timezone: str
    catch_up: CatchUp
    blocking: bool
    timeout_seconds: int
    max_retries: int
    metadata: dict[str, Any]
    webhook_url: str | None
    command: str | None
    # alert rules (issue 19; domain/alerts.py), None: off
    alert_after_failures: int = 1
    max_duration_seconds: int | None = None
    success_within_seconds: int | None = None
    pause_after_failures: int | None = None
    grace_seconds: int | None = None  # heartbeat jobs (domain/pings.py)
    ping_uuid: str | None = None  # a new heartbeat job's ping secret (kept once set)
    channels: list[str] | None = None  # alert channels by name (None: all of the env's)
    remind_every_seconds: int | None = None
    target: dict[str, Any] | None = None  # command jobs: where they run (domain/targets.py)
    jitter_seconds: int = 0  # each tick's due time moves by hashed.jitter_offset
    crons: tuple[str, ...] = ()  # more expressions: the schedule is the union
    overlap: str | None = None  # an Overlap value (domain/overlap.py)
    max_concurrency: int | None = None
    after: dict[str, Any] | None = None  # chains (domain/chains.py: After.as_json)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    environment_id: int
    name: str
    type: JobType
    cron_expression: str
    timezone: str
    anchor_at: datetime
    catch_up: CatchUp
    paused: bool
    muted: bool
    blocking: bool
    timeout_seconds: int
    max_retries: int
    retry_count: int
    metadata: dict[str, Any]
    webhook_url: str | None
    command: str | None
    status: JobStatus
    last_run_at: datetime | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # alert rules and state (issue 19; domain/alerts.py)
    alert_after_failures: int = 1
    max_duration_seconds: int | None = None
    success_within_seconds: int | None = None
    pause_after_failures: int | None = None
    paused_reason: str | None = None
    consecutive_failures: int = 0
    last_success_at: datetime | None = None
    # heartbeat jobs (domain/pings.py): the ping window and the ping URL's secret
    grace_seconds: int | None = None
    ping_uuid: str | None = None
    # alert routing (issue 19): channels by name (None: all), reminders while failing
    channels: list[str] | None = None
    remind_every_seconds: int | None = None
    target: dict[str, Any] | None = None
    jitter_seconds: int = 0
    paused_until: datetime | None = None  # a timed pause: the job resumes by itself then
    skip_next: int = 0  # the next N ticks are recorded as skipped
    crons: tuple[str, ...] = ()  # more expressions beside cron_expression (the union)
    overlap: str | None = None  # None: from ``blocking`` (rows from before the field)
    max_concurrency: int | None = None
    after: dict[str, Any] | None = None  # the jobs it runs after (domain/chains.py)


@dataclass(frozen=True, slots=True)
class Channel:
    """Where an environment's notices go (issue 19): ``kind`` "email" (``addresses``),
    "webhook" (``url``, signed like push) or "slack" (``url``, an incoming webhook)."""

    id: int
    environment_id: int
    name: str
    kind: str  # a ChannelKind value
    addresses: list[str]
    url: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    job_id: int
    environment_id: int
    job_code: str
    job_type: JobType
    status: RunStatus
    source: Source
    scheduled_for: datetime
    attempt: int
    trigger: Trigger
    due_at: datetime
    pickup_deadline: datetime | None
    run_deadline: datetime | None
    timeout_seconds: int
    pick_up_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    duration: int | None
    output: str | None
    error: str | None
    exit_code: int | None
    metadata: dict[str, Any]
    created_at: datetime
    worker: str | None = None  # who claimed it (x-schedo-worker-id), None before a claim
    target_host: str | None = None  # its job's target when it was created (domain/targets)
    target_tags: str | None = None
    payload: dict[str, Any] | None = None  # what a manual trigger carried (its retries too)


# ``dataclasses.replace`` walks the fields and their metadata at every call (every report
# ends a run through ``lifecycle.transition``): the values by position instead
_RUN_FIELDS = tuple(f.name for f in fields(Run))
_RUN_AT = {name: i for i, name in enumerate(_RUN_FIELDS)}
_RUN_VALUES = attrgetter(*_RUN_FIELDS)


def run_with(ex: Run, **changes: Any) -> Run:
    """``dataclasses.replace(ex, **changes)``, faster."""
    values = list(_RUN_VALUES(ex))
    for name, value in changes.items():
        values[_RUN_AT[name]] = value
    return Run(*values)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a run's live output (issue 21): ``stream`` is "log" (the SDK's ctx.log and
    captured logging), "output" (an agent's command output) or "cut" (the cap's marker)."""

    id: int
    at: datetime
    stream: str
    line: str


@dataclass(frozen=True, slots=True)
class Completion:
    """A report of how a run ended (from a worker, a push response or the reaper)."""

    success: bool
    output: str | None = None
    error: str | None = None
    exit_code: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
