"""The endpoints of SPEC 2.2 as ``Call`` descriptions (one function each): what to send and
how to read the answer. ``Client`` and ``AsyncClient`` send them; tests and the worker
runtime may build them directly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .calls import (
    POLL_SLACK,
    WORKER_ID_HEADER,
    Call,
    _clean,
    _first_key,
    _id,
    _integer,
    _list,
    _ms,
    _obj,
    _strings,
    _text,
)
from .models import (
    ApiKey,
    Environment,
    Execution,
    Job,
    JobDetail,
    JobWithConnections,
    Org,
    RunLog,
)

# -- the endpoints ----------------------------------------------------------------------------


def define_job(
    name: str,
    schedule: str,
    *,
    blocking: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
    timeout_seconds: int | None = None,
    webhook_url: str | None = None,
    max_retries: int | None = None,
    timezone: str | None = None,
    catch_up: str | None = None,
    command: str | None = None,
    internal: bool = False,
    target: Mapping[str, Any] | None = None,
    jitter_seconds: int | None = None,
    paused_until: str | datetime | None = None,
    skip_next: int | None = None,
    crons: Sequence[str] | None = None,
    overlap: str | None = None,
    max_concurrency: int | None = None,
    alert_after_failures: int | None = None,
    max_duration_seconds: int | None = None,
    success_within_seconds: int | None = None,
    pause_after_failures: int | None = None,
    channels: Sequence[str] | None = None,
    remind_every_seconds: int | None = None,
    after: Mapping[str, Any] | Sequence[str] | None = None,
) -> Call[Job]:
    body: dict[str, Any] = {"name": name, "schedule": schedule}
    optional: dict[str, Any] = {
        "blocking": blocking,
        "metadata": dict(metadata) if metadata is not None else None,
        "timeout_seconds": timeout_seconds,
        "webhook_url": webhook_url,
        "max_retries": max_retries,
        "timezone": timezone,
        "catch_up": catch_up,
        "command": command,
        "target": dict(target) if target is not None else None,
        "jitter_seconds": jitter_seconds,
        "paused_until": paused_until.isoformat() if isinstance(paused_until, datetime)
        else paused_until,
        "skip_next": skip_next,
        "crons": list(crons) if crons is not None else None,
        "overlap": overlap,
        "max_concurrency": max_concurrency,
        # alert rules and routing (issue 19); channels=[] is sent: it means "no channel"
        "alert_after_failures": alert_after_failures,
        "max_duration_seconds": max_duration_seconds,
        "success_within_seconds": success_within_seconds,
        "pause_after_failures": pause_after_failures,
        "channels": list(channels) if channels is not None else None,
        "remind_every_seconds": remind_every_seconds,
        # chains (issue 21): an object or a list of job names
        "after": (dict(after) if isinstance(after, Mapping) else list(after))
        if after is not None else None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    path = "/jobs/definition/internal" if internal else "/jobs/definition"
    return Call("POST", path, _obj(Job.from_json), body=body)


def list_jobs() -> Call[list[Job]]:
    return Call("GET", "/jobs", _list(Job.from_json))


def list_jobs_with_connections() -> Call[list[JobWithConnections]]:
    return Call("GET", "/jobs/list", _list(JobWithConnections.from_json))


def get_job(job_id: int) -> Call[JobDetail]:
    return Call("GET", f"/jobs/{_id(job_id)}", _obj(JobDetail.from_json))


def delete_job(job_id: int) -> Call[str]:
    return Call("DELETE", f"/jobs/{_id(job_id)}", _text)


def connections_count(job_id: int) -> Call[int]:
    return Call("GET", f"/jobs/{_id(job_id)}/connections/count", _integer)


def mute_job(job_id: int, muted: bool = True) -> Call[Job]:
    return Call(
        "PATCH", f"/jobs/mute/{_id(job_id)}", _obj(Job.from_json), body={"muted": bool(muted)}
    )


def pause_job(job_id: int, until: str | datetime | None = None) -> Call[Job]:
    if until is None:
        return Call("PATCH", f"/jobs/pause/{_id(job_id)}", _obj(Job.from_json))
    text = until.isoformat() if isinstance(until, datetime) else until
    return Call("PATCH", f"/jobs/pause/{_id(job_id)}", _obj(Job.from_json),
                body={"until": text})


def _created(data: Mapping[str, Any]) -> list[Execution]:
    return _list(Execution.from_json)(data.get("executions"))


def backfill_job(job_id: int, start: str | datetime, end: str | datetime) -> Call[list[Execution]]:
    def text(v: str | datetime) -> str:
        return v.isoformat() if isinstance(v, datetime) else v

    return Call("POST", f"/jobs/{_id(job_id)}/backfill", _obj(_created),
                body={"from": text(start), "to": text(end)})


def rerun_execution(exec_id: int) -> Call[Execution]:
    return Call("POST", f"/jobs/executions/{_id(exec_id)}/rerun", _obj(Execution.from_json))


def skip_next(job_id: int, count: int) -> Call[Job]:
    return Call("PATCH", f"/jobs/skip/{_id(job_id)}", _obj(Job.from_json), body={"count": count})


def resume_job(job_id: int) -> Call[Job]:
    return Call("PATCH", f"/jobs/resume/{_id(job_id)}", _obj(Job.from_json))


def trigger_job(job_id: int, payload: Mapping[str, Any] | None = None) -> Call[Execution]:
    if payload is None:
        return Call("POST", f"/jobs/trigger/{_id(job_id)}", _obj(Execution.from_json))
    return Call("POST", f"/jobs/trigger/{_id(job_id)}", _obj(Execution.from_json),
                body={"payload": dict(payload)})


def set_webhook(job_id: int, url: str | None) -> Call[Job]:
    return Call(
        "PATCH", f"/jobs/webhook/{_id(job_id)}", _obj(Job.from_json), body={"webhook_url": url}
    )


def list_executions(
    job_id: int, cursor: int | None = None, limit: int = 50
) -> Call[list[Execution]]:
    params: dict[str, str | int | float] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    return Call("GET", f"/jobs/executions/{_id(job_id)}", _list(Execution.from_json), params=params)


def complete_execution(
    execution_id: int,
    success: bool,
    output: str | None = None,
    error: str | None = None,
    start_ms: int | datetime | None = None,
    end_ms: int | datetime | None = None,
    exit_code: int | None = None,
) -> Call[Execution]:
    body: dict[str, Any] = {"success": bool(success)}
    optional: dict[str, Any] = {
        "output": _clean(output),
        "error": _clean(error),
        "start_server_time_utc": _ms(start_ms),
        "complete_server_time_utc": _ms(end_ms),
        "exit_code": exit_code,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return Call(
        "POST",
        f"/jobs/executions/complete/{_id(execution_id)}",
        _obj(Execution.from_json),
        body=body,
    )


@dataclass(frozen=True)
class Report:
    """One result for ``complete_executions`` (the batch report)."""

    execution_id: int
    success: bool
    output: str | None = None
    error: str | None = None
    start_ms: int | datetime | None = None
    end_ms: int | datetime | None = None
    exit_code: int | None = None


@dataclass(frozen=True)
class ReportResult:
    """The server's answer for one report of a batch: ``status`` 200 with the execution, or
    400/404/409 with ``message``."""

    execution_id: int
    status: int
    message: str | None
    execution: Execution | None


def _report_results(data: Any) -> list[ReportResult]:
    if not isinstance(data, list):
        raise ValueError("expected a list of results")
    return [
        ReportResult(
            execution_id=int(item["id"]),
            status=int(item["status"]),
            message=item.get("message"),
            execution=Execution.from_json(item["execution"]) if item.get("execution") else None,
        )
        for item in data
    ]


def complete_executions(reports: Sequence[Report]) -> Call[list[ReportResult]]:
    """Extension: many reports in one request (``POST /jobs/executions/complete``)."""
    items = []
    for r in reports:
        item: dict[str, Any] = {"id": _id(r.execution_id), "success": bool(r.success)}
        optional: dict[str, Any] = {
            "output": _clean(r.output),
            "error": _clean(r.error),
            "start_server_time_utc": _ms(r.start_ms),
            "complete_server_time_utc": _ms(r.end_ms),
            "exit_code": r.exit_code,
        }
        item.update({k: v for k, v in optional.items() if v is not None})
        items.append(item)
    return Call("POST", "/jobs/executions/complete", _report_results, body={"results": items})


def pull_executions(
    jobs: Sequence[str] | str | None,
    wait: float = 25,
    limit: int = 10,
    *,
    worker_id: str | None = None,
    job_type: str | None = None,
    agent_host: str | None = None,
    agent_tags: Sequence[str] = (),
) -> Call[list[Execution]]:
    """``GET /jobs/executions``: runs of ``jobs`` (sdk jobs), or with ``job_type="command"``
    runs of command jobs (agents), of every command job when ``jobs`` is empty or None."""
    codes = [] if jobs is None else [jobs] if isinstance(jobs, str) else list(jobs)
    if not codes and job_type is None:
        raise ValueError("jobs: name at least one job")
    bad = [c for c in codes if "," in c]
    if bad:
        raise ValueError(f"jobs: job names must not contain commas ({bad[0]!r})")
    params: dict[str, str | int | float] = {}
    if job_type is not None:
        params["type"] = job_type
    if codes:
        params["jobs"] = ",".join(codes)
    params.update(wait=_num(wait), limit=limit)
    headers = {WORKER_ID_HEADER: worker_id} if worker_id else {}
    if agent_host:  # an agent announces where it runs (command jobs' targets)
        headers["x-schedo-agent-host"] = agent_host
    if agent_tags:
        headers["x-schedo-agent-tags"] = ",".join(agent_tags)
    return Call(
        "GET",
        "/jobs/executions",
        _list(Execution.from_json),
        params=params,
        headers=headers or None,
        timeout=max(0.0, float(wait)) + POLL_SLACK,
    )


def cancel_execution(execution_id: int, reason: str | None = None) -> Call[Execution]:
    """``POST /jobs/executions/{id}/cancel`` (extension): end a pending or running run."""
    body = {"reason": reason} if reason else {}
    return Call("POST", f"/jobs/executions/{_id(execution_id)}/cancel",
                _obj(Execution.from_json), body=body)


def _cancelled(data: Any) -> list[int]:
    got = data.get("cancelled") if isinstance(data, dict) else None
    return [int(i) for i in got or [] if isinstance(i, int)]


def watch_cancelled(ids: Sequence[int], wait: float = 25) -> Call[list[int]]:
    """``POST /jobs/executions/cancelled`` (extension): which of ``ids`` are cancelled,
    waiting up to ``wait`` seconds for one (the worker runtime's watch)."""
    return Call("POST", "/jobs/executions/cancelled", _cancelled,
                params={"wait": _num(wait)}, body={"ids": [_id(i) for i in ids]},
                timeout=max(0.0, float(wait)) + POLL_SLACK)


def append_log(
    execution_id: int, lines: Sequence[tuple[int | None, str, str]]
) -> Call[dict[str, Any]]:
    """``POST /jobs/executions/{id}/log`` (extension): (at_ms, stream, text) lines of a
    run's live output."""
    body = {"lines": [
        {k: v for k, v in (("text", _clean(t) or ""), ("stream", s), ("at", at))
         if v is not None}
        for at, s, t in lines]}
    return Call("POST", f"/jobs/executions/{_id(execution_id)}/log",
                lambda d: dict(d) if isinstance(d, dict) else {}, body=body)


def read_log(execution_id: int, after: int = 0, limit: int = 1000) -> Call[RunLog]:
    """``GET /jobs/executions/{id}/log`` (extension): the run and its lines after ``after``."""
    return Call("GET", f"/jobs/executions/{_id(execution_id)}/log", _obj(RunLog.from_json),
                params={"after": after, "limit": limit})


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def create_api_key(environment_id: int, name: str, scope: str | None = None) -> Call[ApiKey]:
    body: dict[str, Any] = {"environment_id": environment_id, "name": name}
    if scope is not None:  # extension (issue 22); absent: full, the hosted service's shape
        body["scope"] = scope
    return Call("POST", "/apikeys", _obj(ApiKey.from_json), body=body)


def list_api_keys() -> Call[list[ApiKey]]:
    return Call("GET", "/apikeys", _list(ApiKey.from_json))


def revoke_api_key(key_id: int) -> Call[ApiKey]:
    return Call("DELETE", f"/apikeys/revoke/{_id(key_id)}", _first_key)


def create_environment(name: str) -> Call[Environment]:
    return Call("POST", "/org/environments", _obj(Environment.from_json), body={"name": name})


def list_environments() -> Call[list[Environment]]:
    return Call("GET", "/org/environments", _list(Environment.from_json))


def delete_environment(environment_id: int) -> Call[Environment]:
    return Call("DELETE", f"/org/environments/{_id(environment_id)}", _obj(Environment.from_json))


def get_org() -> Call[Org]:
    return Call("GET", "/org", _obj(Org.from_json))


def list_emails() -> Call[list[str]]:
    return Call("GET", "/org/emails", _strings)


def add_email(address: str) -> Call[list[str]]:
    return Call("POST", "/org/emails", _strings, body=address)


def remove_email(address: str) -> Call[list[str]]:
    return Call("DELETE", "/org/emails", _strings, body=address)
