"""The job form (new job and edit, issue 22): the fields it shows, their text values, and the
definition body they make. Text that is not even the right kind (a number, a JSON object) is
refused here, field by field; every other rule is the services' (``services.definitions``),
so the form refuses exactly what ``POST /jobs/definition`` refuses."""

from __future__ import annotations

import difflib
import json
import re
from datetime import UTC
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from ..api.middleware import MAX_JSON_DEPTH, json_depth
from ..domain.model import JobType
from ..domain.records import Job

KINDS = ("sdk", "push", "command", "heartbeat")
CATCH_UP = ("latest", "none", "all")
OVERLAP = ("skip", "allow", "buffer_one", "cancel_other")
TARGET_MODES = ("any", "all")
ALERTS = ("alert_after_failures", "pause_after_failures", "max_duration_seconds",
          "success_within_seconds", "remind_every_seconds")
WHOLE = ("timeout_seconds", "max_retries", "max_concurrency", "jitter_seconds",
         "grace_seconds", "after_within", "skip_next", *ALERTS)
AFTER_ON = ("success", "failure", "completion")
FIELDS = ("type", "name", "schedule", "crons", "timezone", "catch_up", "overlap",
          "max_concurrency", "jitter_seconds", "timeout_seconds", "max_retries", "metadata",
          "webhook_url", "command", "target_host", "target_tags", "target_mode",
          "grace_seconds", *ALERTS, "channels_mode", "channels", "after_jobs", "after_on",
          "after_within", "paused_until", "skip_next")
DEFAULTS = {
    "type": "push",
    "name": "",
    "schedule": "*/5 * * * *",
    "crons": "",
    "timezone": "UTC",
    "catch_up": "latest",
    "overlap": "allow",  # the API's default (blocking absent: runs may overlap)
    "max_concurrency": "",
    "jitter_seconds": "0",
    "timeout_seconds": "60",
    "max_retries": "0",
    "metadata": "{}",
    "webhook_url": "",
    "command": "",
    "target_host": "",
    "target_tags": "",
    "target_mode": "any",
    "grace_seconds": "3600",
    "alert_after_failures": "1",
    "pause_after_failures": "",
    "max_duration_seconds": "",
    "success_within_seconds": "",
    "remind_every_seconds": "",
    "channels_mode": "all",
    "channels": "",  # the chosen channels' names, one a line (checkboxes channel_0, ...)
    "after_jobs": "",
    "after_on": "success",
    "after_within": "3600",
    "paused_until": "",
    "skip_next": "0",
}
# which fields each type's definition carries (the others are kept as typed, not sent)
COMMON = ("schedule", "crons", "timezone", "catch_up", "jitter_seconds", "metadata", *ALERTS,
          "channels", "paused_until", "skip_next")
RUNS = ("overlap", "max_concurrency", "timeout_seconds", "max_retries", "after")
BY_KIND = {
    "sdk": COMMON + RUNS,
    "push": COMMON + RUNS + ("webhook_url",),
    "command": COMMON + RUNS + ("command", "target"),
    "heartbeat": (*COMMON, "grace_seconds"),
}
_SPLIT = re.compile(r"[\s,]+")


@lru_cache(maxsize=1)
def zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z or z == "UTC")


def did_you_mean(value: str) -> list[str]:
    """The zone names closest to a mistyped one (case does not matter), best first."""
    lower = {z.lower(): z for z in zones()}
    found = difflib.get_close_matches(value.strip().lower(), list(lower), n=3, cutoff=0.6)
    return [lower[f] for f in found]


def values_of(job: Job) -> dict[str, str]:
    """The form's text values for ``job`` as it is."""
    target = job.target or {}
    return {
        **DEFAULTS,
        "type": job.type.value,
        "name": job.name,
        "schedule": job.cron_expression,
        "crons": "\n".join(job.crons),
        "timezone": job.timezone,
        "catch_up": job.catch_up.value,
        "overlap": job.overlap or ("skip" if job.blocking else "allow"),
        "max_concurrency": "" if job.max_concurrency is None else str(job.max_concurrency),
        "jitter_seconds": str(job.jitter_seconds),
        "timeout_seconds": str(job.timeout_seconds),
        "max_retries": str(job.max_retries),
        "metadata": json.dumps(job.metadata, indent=2, ensure_ascii=False),
        "webhook_url": job.webhook_url or "",
        "command": job.command or "",
        "target_host": target.get("host", ""),
        "target_tags": ", ".join(target.get("tags", [])),
        "target_mode": target.get("mode", "any"),
        "grace_seconds": str(job.grace_seconds or DEFAULTS["grace_seconds"]),
        **{f: "" if getattr(job, f) is None else str(getattr(job, f)) for f in ALERTS},
        "channels_mode": "all" if job.channels is None else "chosen",
        "channels": "\n".join(job.channels or []),
        "after_jobs": ", ".join((job.after or {}).get("jobs", [])),
        "after_on": (job.after or {}).get("on", DEFAULTS["after_on"]),
        "after_within": str((job.after or {}).get("within_seconds", DEFAULTS["after_within"])),
        "paused_until": "" if job.paused_until is None
        else job.paused_until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "skip_next": str(job.skip_next),
    }


def _whole(text: str, field: str) -> int | None:
    t = text.strip()
    if not t:
        return None
    if not re.fullmatch(r"[+-]?[0-9]{1,12}", t):
        raise ValueError(f"{field}: enter a whole number (you typed {t[:30]!r})")
    return int(t)


def _metadata(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    if json_depth(text.encode()) > MAX_JSON_DEPTH:  # the API refuses these at its door
        raise ValueError(f"metadata: nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"metadata: not valid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno})") from None
    if not isinstance(value, dict):
        raise ValueError('metadata: must be a JSON object, such as {"team": "data"}')
    return value


def _target(values: dict[str, str]) -> dict[str, Any] | None:
    host, tags = values["target_host"].strip(), values["target_tags"].strip()
    out: dict[str, Any] = {}
    if host:
        out["host"] = host
    if tags:
        out.update(tags=[t for t in _SPLIT.split(tags) if t], mode=values["target_mode"])
    return out or None


def _after(values: dict[str, str]) -> dict[str, Any] | None:
    names = [n.strip() for n in values["after_jobs"].split(",") if n.strip()]
    if not names:
        return None  # runs after no other job
    out: dict[str, Any] = {"jobs": names, "on": values["after_on"]}
    within = _whole(values["after_within"], "after")
    if within is not None:
        out["within_seconds"] = within
    return out


def _value(field: str, values: dict[str, str]) -> Any:
    if field in WHOLE:
        return _whole(values[field], field)
    if field == "metadata":
        return _metadata(values[field])
    if field == "crons":
        return [line.strip() for line in values[field].splitlines() if line.strip()]
    if field == "target":
        return _target(values)
    if field == "after":
        return _after(values)
    if field == "paused_until":  # empty: no timed pause (a definition's null)
        return values[field].strip() or None
    if field == "channels":
        if values["channels_mode"] != "chosen":
            return None  # every channel of the environment, also those added later
        return [n for n in values["channels"].split("\n") if n]
    return values[field].strip()


def body(values: dict[str, str], kind: str, base: dict[str, Any] | None = None
         ) -> tuple[dict[str, Any], dict[str, str]]:
    """The definition the form asks for (over ``base``, the job's own, when editing) and the
    fields whose text is not even of the right kind."""
    out: dict[str, Any] = dict(base or {"name": values["name"].strip()})
    if kind == JobType.HEARTBEAT.value:
        out["type"] = kind
    errors: dict[str, str] = {}
    for field in BY_KIND[kind]:
        try:
            out[field] = _value(field, values)
        except ValueError as exc:
            errors[field] = str(exc)
    if "timezone" in out and not out["timezone"]:
        out["timezone"] = "UTC"
    return out, errors


def read(form: dict[str, str], fixed: dict[str, str] | None = None) -> dict[str, str]:
    """The form's text values as typed (``fixed``: those an edit does not take from it)."""
    values = {k: form.get(k, DEFAULTS[k])[:70_000] for k in FIELDS}
    chosen = [v for k, v in form.items() if k.startswith("channel_") and v]
    values["channels"] = "\n".join(dict.fromkeys(chosen))[:70_000]
    if values["type"] not in KINDS:
        values["type"] = DEFAULTS["type"]
    return {**values, **(fixed or {})}


def zone_hint(message: str, typed: str) -> str:
    """``message`` with "Did you mean …" (the closest zone name) when it refuses the time
    zone ``typed``."""
    if message.startswith("timezone"):
        near = did_you_mean(typed)
        if near:
            return f"{message.rstrip('.')}. Did you mean {near[0]}?"
    return message


def with_hints(errors: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    """A refused time zone gets the closest name ("did you mean …")."""
    if "timezone" in errors:
        errors["timezone"] = zone_hint(errors["timezone"], values["timezone"])
    return errors
