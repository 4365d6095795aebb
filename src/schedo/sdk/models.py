"""Typed views of the API's JSON (SPEC 2.1).

Parsing is tolerant: unknown fields are ignored (they stay available in ``raw``), optional
fields may be missing, and timestamps become timezone-aware ``datetime`` objects in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 text (``2026-11-28T12:00:00Z``) -> aware UTC datetime; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float):
        dt = datetime.fromtimestamp(value, tz=UTC)
    else:
        text = str(value).strip()
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _time(data: Mapping[str, Any], key: str) -> datetime | None:
    return parse_time(data.get(key))


def _int(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key)
    return int(value) if value is not None else default


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return int(value) if value is not None else None


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    return str(value) if value is not None else default


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return str(value) if value is not None else None


def _dict(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    name: str
    key: str
    type: str
    cron_expression: str
    timezone: str = "UTC"
    environment_id: int = 0
    status: str = "pending"
    paused: bool = False
    muted: bool = False
    blocking: bool = False
    timeout_seconds: int = 60
    timeout: str = "1m"
    max_retries: int = 0
    retry_count: int = 0
    catch_up: str = "latest"
    metadata: dict[str, Any] = field(default_factory=dict)
    webhook_url: str | None = None
    command: str | None = None
    last_run_at: datetime | None = None
    next_run_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    target: dict[str, Any] | None = None  # extension: where a command job runs
    resolved_cron: str = ""  # the schedule with its H fields resolved for this job
    jitter_seconds: int = 0
    paused_until: datetime | None = None
    skip_next: int = 0
    crons: tuple[str, ...] = ()
    overlap: str = "allow"
    max_concurrency: int | None = None
    after: dict[str, Any] | None = None  # extension: the jobs it runs after (chains)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        name = _str(data, "name")
        return cls(
            id=_int(data, "id"),
            name=name,
            key=_str(data, "key", name),
            type=_str(data, "type", "sdk"),
            cron_expression=_str(data, "cron_expression"),
            timezone=_str(data, "timezone", "UTC"),
            environment_id=_int(data, "environment_id"),
            status=_str(data, "status", "pending"),
            paused=bool(data.get("paused", False)),
            muted=bool(data.get("muted", False)),
            blocking=bool(data.get("blocking", False)),
            timeout_seconds=_int(data, "timeout_seconds", 60),
            timeout=_str(data, "timeout", ""),
            max_retries=_int(data, "max_retries"),
            retry_count=_int(data, "retry_count"),
            catch_up=_str(data, "catch_up", "latest"),
            metadata=_dict(data, "metadata"),
            webhook_url=_opt_str(data, "webhook_url"),
            command=_opt_str(data, "command"),
            last_run_at=_time(data, "last_run_at"),
            next_run_at=_time(data, "next_run_at"),
            created_at=_time(data, "created_at"),
            updated_at=_time(data, "updated_at"),
            target=dict(data["target"]) if isinstance(data.get("target"), dict) else None,
            after=dict(data["after"]) if isinstance(data.get("after"), dict) else None,
            raw=dict(data),
            resolved_cron=_str(data, "resolved_cron", _str(data, "cron_expression")),
            jitter_seconds=_int(data, "jitter_seconds"),
            paused_until=_time(data, "paused_until"),
            skip_next=_int(data, "skip_next"),
            crons=tuple(c for c in data.get("crons") or () if isinstance(c, str)),
            overlap=_str(data, "overlap", "skip" if data.get("blocking") else "allow"),
            max_concurrency=_opt_int(data, "max_concurrency"),
        )


@dataclass(frozen=True, slots=True)
class Execution:
    id: int
    job_code: str
    status: str
    job_id: int = 0
    scheduled_for: datetime | None = None
    attempt: int = 1
    trigger: str = "schedule"
    pick_up_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    output: str | None = None
    error: str | None = None
    exit_code: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    worker: str | None = None  # extension: the worker or agent that claimed it
    payload: dict[str, Any] | None = None  # what a manual trigger carried
    target_host: str | None = None  # extension: the host a command run is for

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Execution:
        return cls(
            id=_int(data, "id"),
            job_code=_str(data, "job_code"),
            status=_str(data, "status", "pending"),
            job_id=_int(data, "job_id"),
            scheduled_for=_time(data, "scheduled_for"),
            attempt=_int(data, "attempt", 1),
            trigger=_str(data, "trigger", "schedule"),
            pick_up_time=_time(data, "pick_up_time"),
            start_time=_time(data, "start_time"),
            end_time=_time(data, "end_time"),
            duration=_opt_int(data, "duration"),
            output=_opt_str(data, "output"),
            error=_opt_str(data, "error"),
            exit_code=_opt_int(data, "exit_code"),
            metadata=_dict(data, "metadata"),
            raw=dict(data),
            worker=_opt_str(data, "worker"),
            payload=data["payload"] if isinstance(data.get("payload"), dict) else None,
            target_host=_opt_str(data, "target_host"),
        )


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a run's live output (``GET /jobs/executions/{id}/log``)."""

    id: int
    at: datetime | None
    stream: str
    line: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogLine:
        return cls(id=_int(data, "id"), at=_time(data, "at"),
                   stream=_str(data, "stream", "log"), line=_str(data, "line"))


@dataclass(frozen=True, slots=True)
class RunLog:
    """A run and its output lines after a cursor; ``next_after`` is the next cursor."""

    execution: Execution
    lines: list[LogLine]
    next_after: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunLog:
        return cls(execution=Execution.from_json(data.get("execution") or {}),
                   lines=[LogLine.from_json(x) for x in data.get("lines") or []],
                   next_after=_int(data, "next_after"))


@dataclass(frozen=True, slots=True)
class JobWithConnections:
    connections_count: int
    job: Job

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobWithConnections:
        return cls(
            connections_count=_int(data, "connections_count"),
            job=Job.from_json(data.get("job") or {}),
        )


@dataclass(frozen=True, slots=True)
class JobDetail:
    connections_count: int
    job: Job
    last_run: Execution | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobDetail:
        last = data.get("last_run")
        return cls(
            connections_count=_int(data, "connections_count"),
            job=Job.from_json(data.get("job") or {}),
            last_run=Execution.from_json(last) if isinstance(last, Mapping) else None,
        )


@dataclass(frozen=True, slots=True)
class Environment:
    id: int
    name: str
    organization_id: int = 0
    created_at: datetime | None = None
    webhook_signature_key: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Environment:
        return cls(
            id=_int(data, "id"),
            name=_str(data, "name"),
            organization_id=_int(data, "organization_id"),
            created_at=_time(data, "created_at"),
            webhook_signature_key=_opt_str(data, "webhook_signature_key"),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key. ``key`` is the full secret only in ``create_api_key``'s answer; elsewhere
    it is a prefix for recognition."""

    id: int
    name: str
    key: str
    environment_id: int | None = None
    organization_id: int = 0
    internal: bool = False
    revoked: bool = False
    admin: bool = False
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    scope: str = "full"  # Schedo extension (issue 22): full, editor, operator, read, worker

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApiKey:
        return cls(
            id=_int(data, "id"),
            name=_str(data, "name"),
            key=_str(data, "key"),
            environment_id=_opt_int(data, "environment_id"),
            organization_id=_int(data, "organization_id"),
            internal=bool(data.get("internal", False)),
            revoked=bool(data.get("revoked", False)),
            admin=bool(data.get("admin", False)),
            scope=str(data.get("scope") or "full"),
            created_at=_time(data, "created_at"),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class Org:
    id: int
    name: str
    emails: list[str] = field(default_factory=list)
    single_user_org: bool = False
    clerk_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Org:
        emails = data.get("emails") or []
        return cls(
            id=_int(data, "id"),
            name=_str(data, "name"),
            emails=[str(e) for e in emails],
            single_user_org=bool(data.get("single_user_org", False)),
            clerk_id=_opt_str(data, "clerk_id"),
            raw=dict(data),
        )
