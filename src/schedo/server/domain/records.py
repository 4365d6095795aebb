"""Records the storage layer returns: plain frozen dataclasses, no behaviour, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
    jitter_seconds: int = 0  # each tick's due time moves by hashed.jitter_offset
    crons: tuple[str, ...] = ()  # more expressions: the schedule is the union
    overlap: str | None = None  # "skip" | "allow" | "buffer_one" (domain/overlap.py)
    max_concurrency: int | None = None


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
    jitter_seconds: int = 0
    paused_until: datetime | None = None  # a timed pause: the job resumes by itself then
    skip_next: int = 0  # the next N ticks are recorded as skipped
    crons: tuple[str, ...] = ()  # more expressions beside cron_expression (the union)
    overlap: str | None = None  # None: from ``blocking`` (rows from before the field)
    max_concurrency: int | None = None


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
    payload: dict[str, Any] | None = None  # what a manual trigger carried (its retries too)


@dataclass(frozen=True, slots=True)
class Completion:
    """A report of how a run ended (from a worker, a push response or the reaper)."""

    success: bool
    output: str | None = None
    error: str | None = None
    exit_code: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
