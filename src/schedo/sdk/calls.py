"""Sans-I/O description of every endpoint of SPEC 2.2, shared by ``Client`` and ``AsyncClient``.

Each function returns a ``Call``: method, path, query, body and the parser of the answer. The
two clients only differ in how they send it (``httpx.Client`` or ``httpx.AsyncClient``), so
each rule (which fields are sent, how an answer or an error is read) is written once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

from .errors import ApiError, ConfigurationError, SchedoError, error_for
from .models import ApiKey, Environment, Execution, Job, JobDetail, JobWithConnections, Org

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
WORKER_ID_HEADER = "x-schedo-worker-id"
ENVIRONMENT_HEADER = "X-API-ENVIRONMENT"
# Extra seconds a long poll may take beyond its ``wait`` before the client gives up on it.
POLL_SLACK = 15.0


class _NoBody:
    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Any = _NoBody()


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Mapping[str, str | int | float] | None = None
    body: Any = NO_BODY
    headers: Mapping[str, str] | None = None
    timeout: float | None = None  # overrides the client's timeout (long polls)

    @property
    def has_body(self) -> bool:
        return self.body is not NO_BODY


@dataclass(frozen=True, slots=True)
class Settings:
    api_key: str
    base_url: str
    environment_id: int | None
    timeout: float

    def headers(self, user_agent: str) -> dict[str, str]:
        h = {"x-api-key": self.api_key, "accept": "application/json", "user-agent": user_agent}
        if self.environment_id is not None:
            h[ENVIRONMENT_HEADER] = str(self.environment_id)
        return h


def resolve(
    api_key: str | None, base_url: str | None, environment_id: int | None, timeout: float
) -> Settings:
    """Arguments first, then ``SCHEDO_API_KEY`` / ``SCHEDO_BASE_URL`` /
    ``SCHEDO_ENVIRONMENT_ID``, then defaults."""
    key = api_key or os.environ.get("SCHEDO_API_KEY") or ""
    if not key:
        raise ConfigurationError(
            "no API key: pass api_key=... or set the SCHEDO_API_KEY environment variable"
        )
    url = (base_url or os.environ.get("SCHEDO_BASE_URL") or DEFAULT_BASE_URL).strip()
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"base_url: {url!r} is not an http(s) URL")
    env = environment_id
    if env is None and os.environ.get("SCHEDO_ENVIRONMENT_ID"):
        try:
            env = int(os.environ["SCHEDO_ENVIRONMENT_ID"])
        except ValueError:
            raise ConfigurationError("SCHEDO_ENVIRONMENT_ID: must be an integer") from None
    if timeout <= 0:
        raise ConfigurationError("timeout: must be positive")
    return Settings(api_key=key, base_url=url.rstrip("/"), environment_id=env, timeout=timeout)


# -- text the server can store -----------------------------------------------------------------

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` as valid Unicode, which UTF-8 (and so JSON on the wire) can carry: a lone
    surrogate (text decoded with ``surrogateescape``, e.g. ``os.fsdecode(b"\\xff")``, or a
    half of a UTF-16 pair) becomes U+FFFD, as undecodable bytes do elsewhere; a well-formed
    pair written as two code points becomes its character. Valid text is returned as is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return text
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return _LONE_SURROGATE.sub("\ufffd", joined)


def _clean(value: str | None) -> str | None:
    return clean_text(value) if isinstance(value, str) else value


# -- reading answers --------------------------------------------------------------------------


def _message(content: bytes, reason: str) -> str:
    try:
        data = json.loads(content)
    except ValueError:
        text = content.decode("utf-8", "replace").strip()
        return text[:500] if text else reason
    if isinstance(data, Mapping):
        for field in ("message", "detail", "error"):
            if field in data and data[field] is not None:
                value = data[field]
                return value if isinstance(value, str) else json.dumps(value)
    return json.dumps(data)[:500]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


def error_from(status: int, headers: Mapping[str, str], content: bytes, reason: str) -> ApiError:
    return error_for(status, _message(content, reason or f"HTTP {status}"), _retry_after(headers))


def decode(
    call: Call[T], status: int, headers: Mapping[str, str], content: bytes, reason: str = ""
) -> T:
    """The parsed answer of a 2xx, or the ``ApiError`` of any other status."""
    if not 200 <= status < 300:
        raise error_from(status, headers, content, reason)
    try:
        data = json.loads(content) if content else None
    except ValueError:
        raise ApiError(status, f"{call.method} {call.path}: the answer is not JSON") from None
    try:
        return call.parse(data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise SchedoError(
            f"{call.method} {call.path}: unexpected answer shape ({type(exc).__name__}: {exc})"
        ) from exc


# -- parsers ----------------------------------------------------------------------------------


def _list(item: Callable[[Mapping[str, Any]], T]) -> Callable[[Any], list[T]]:
    def parse(data: Any) -> list[T]:
        if not isinstance(data, list):
            raise TypeError(f"expected a list, got {type(data).__name__}")
        return [item(x) for x in data]

    return parse


def _obj(item: Callable[[Mapping[str, Any]], T]) -> Callable[[Any], T]:
    def parse(data: Any) -> T:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        return item(data)

    return parse


def _strings(data: Any) -> list[str]:
    if not isinstance(data, list):
        raise TypeError(f"expected a list, got {type(data).__name__}")
    return [str(x) for x in data]


def _first_key(data: Any) -> ApiKey:
    if isinstance(data, list):
        if not data:
            raise ValueError("empty list")
        data = data[0]
    return _obj(ApiKey.from_json)(data)


def _text(data: Any) -> str:
    return data if isinstance(data, str) else json.dumps(data)


def _integer(data: Any) -> int:
    if isinstance(data, bool) or not isinstance(data, int | str):
        raise TypeError(f"expected an integer, got {type(data).__name__}")
    return int(data)


def _id(value: int, what: str = "id") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what}: must be an integer, got {type(value).__name__}")
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(value: int | datetime | None) -> int | None:
    """Unix milliseconds; an aware datetime is converted exactly (naive means UTC)."""
    if value is None or isinstance(value, int):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(milliseconds=1)


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


def pause_job(job_id: int) -> Call[Job]:
    return Call("PATCH", f"/jobs/pause/{_id(job_id)}", _obj(Job.from_json))


def resume_job(job_id: int) -> Call[Job]:
    return Call("PATCH", f"/jobs/resume/{_id(job_id)}", _obj(Job.from_json))


def trigger_job(job_id: int) -> Call[Execution]:
    return Call("POST", f"/jobs/trigger/{_id(job_id)}", _obj(Execution.from_json))


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
    headers = {WORKER_ID_HEADER: worker_id} if worker_id else None
    return Call(
        "GET",
        "/jobs/executions",
        _list(Execution.from_json),
        params=params,
        headers=headers,
        timeout=max(0.0, float(wait)) + POLL_SLACK,
    )


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def create_api_key(environment_id: int, name: str) -> Call[ApiKey]:
    return Call(
        "POST",
        "/apikeys",
        _obj(ApiKey.from_json),
        body={"environment_id": environment_id, "name": name},
    )


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
