"""Definitions for forms (the dashboard's new-job and edit forms, issue 22).

``problems`` checks every field of a definition on its own and returns each refusal keyed by
the field, so a form can show them all at once; ``jobs.define`` stays the authority (it runs
the same checks again, in order, and stops at the first). ``body_of`` is the definition that
redefines a job as it is, so an edit that changes some fields keeps all the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..domain import targets
from ..domain.errors import InvalidInput
from ..domain.hashed import seed_of
from ..domain.model import JobType
from ..domain.pings import GRACE_MAX_SECONDS
from ..domain.records import Job
from . import chains, channels, validation
from .context import Principal, Services

Check = Callable[[], Any]
ALERT_FIELDS = ("alert_after_failures", "max_duration_seconds", "success_within_seconds",
                "pause_after_failures", "remind_every_seconds")


def body_of(job: Job) -> dict[str, Any]:
    """The ``POST /jobs/definition`` body that defines ``job`` exactly as it is (its timed
    pause and skip count are left out: a definition without them leaves them alone)."""
    body: dict[str, Any] = {
        "name": job.name,
        "schedule": job.cron_expression,
        "timezone": job.timezone,
        "catch_up": job.catch_up.value,
        "metadata": job.metadata,
        "crons": list(job.crons),
        "jitter_seconds": job.jitter_seconds,
        "alert_after_failures": job.alert_after_failures,
        "max_duration_seconds": job.max_duration_seconds,
        "success_within_seconds": job.success_within_seconds,
        "pause_after_failures": job.pause_after_failures,
        "remind_every_seconds": job.remind_every_seconds,
        "channels": job.channels,
        "after": job.after,
    }
    if job.type is JobType.HEARTBEAT:
        return {**body, "type": "heartbeat", "grace_seconds": job.grace_seconds}
    body.update(
        overlap=job.overlap or ("skip" if job.blocking else "allow"),
        max_concurrency=job.max_concurrency,
        timeout_seconds=job.timeout_seconds,
        max_retries=job.max_retries,
    )
    if job.type is JobType.PUSH:
        body["webhook_url"] = job.webhook_url
    elif job.type is JobType.COMMAND:
        body.update(command=job.command, target=job.target)
    return body


def _field(message: str, default: str) -> str:
    """The field a message names (``"timezone: ..."`` -> ``timezone``; ``target.host`` ->
    ``target``)."""
    head = message.split(":", 1)[0] if ":" in message else ""
    head = head.split(".", 1)[0].strip()
    return head if head.isidentifier() else default


def _zone_and_schedule(svc: Services, p: Principal, body: dict[str, Any]
                       ) -> list[tuple[str, Check]]:
    tz = str(body.get("timezone") or "UTC")
    seed = seed_of(p.env_id, str(body.get("name", "")))
    zone_ok: list[bool] = []

    def zone() -> None:
        validation.schedule("@daily", tz)
        zone_ok.append(True)

    def sched() -> None:
        validation.schedule(body.get("schedule", ""), tz if zone_ok else "UTC", seed)

    def crons() -> None:
        validation.crons_field(body.get("crons"), tz if zone_ok else "UTC", seed)

    return [("timezone", zone), ("schedule", sched), ("crons", crons)]


def _alert_rule(field: str, value: Any) -> Check:
    return lambda: validation.alert_rules({field: value})


def _checks(svc: Services, p: Principal, body: dict[str, Any]) -> list[tuple[str, Check]]:
    get = body.get
    heartbeat = get("type") == JobType.HEARTBEAT.value
    out: list[tuple[str, Check]] = [("name", lambda: validation.job_name(get("name", "")))]
    out += _zone_and_schedule(svc, p, body)
    out += [
        ("catch_up", lambda: validation.catch_up(get("catch_up"))),
        ("metadata", lambda: validation.metadata(get("metadata"))),
        ("jitter_seconds", lambda: validation.jitter_seconds(get("jitter_seconds"))),
    ]
    if get("paused_until") is not None:
        out.append(("paused_until", lambda: validation.instant(str(get("paused_until")),
                                                               "paused_until")))
    if get("skip_next") is not None:
        out.append(("skip_next", lambda: validation.skip_next(get("skip_next") or 0)))
    # each alert rule on its own (alert_rules stops at the first)
    out += [(f, _alert_rule(f, get(f))) for f in ALERT_FIELDS]
    if heartbeat:
        out.append(("grace_seconds", lambda: validation.bounded(
            "grace_seconds", get("grace_seconds"), 1, GRACE_MAX_SECONDS)))
        return out
    out += [
        ("overlap", lambda: validation.overlap_field(get("overlap"), get("blocking"),
                                                     get("max_concurrency"))),
        ("timeout_seconds", lambda: validation.timeout(get("timeout_seconds"))),
        ("max_retries", lambda: validation.max_retries(get("max_retries"))),
    ]
    if get("webhook_url") is not None:
        out.append(("webhook_url", lambda: validation.webhook_url(
            str(get("webhook_url")), allow_private=svc.settings.allow_private_webhooks)))
    if get("command") is not None:
        out.append(("command", lambda: validation.command_text(str(get("command")))))
        out.append(("target", lambda: targets.target(get("target"))))
    return out


async def problems(svc: Services, p: Principal, body: dict[str, Any]) -> dict[str, str]:
    """Every refused field of ``body`` with its message (empty: ``jobs.define`` may still
    refuse on a rule between fields; its message names the field)."""
    found: dict[str, str] = {}
    for field, check in _checks(svc, p, body):
        try:
            check()
        except InvalidInput as exc:
            found.setdefault(_field(str(exc), field), str(exc))
    later: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("channels", lambda: channels.job_channels(svc, p, body.get("channels"))),
    ]
    name = str(body.get("name", ""))
    kind = JobType.HEARTBEAT if body.get("type") == "heartbeat" else JobType.SDK
    later.append(("after", lambda: chains.checked_after(svc, p, name, kind,
                                                        body.get("after"))))
    for field, acheck in later:
        try:
            await acheck()
        except InvalidInput as exc:
            found.setdefault(_field(str(exc), field), str(exc))
    return found


def field_of(exc: InvalidInput, default: str = "form") -> str:
    return _field(str(exc), default)
