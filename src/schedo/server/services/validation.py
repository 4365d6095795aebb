"""Semantic checks of user input (structure and types are the API models' job).

Every failure is an ``InvalidInput`` whose message starts with the field name.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ...limits import (
    COMMAND_MAX,
    JITTER_MAX,
    METADATA_MAX_BYTES,
    METADATA_MAX_KEYS,
    NAME_MAX,
    NAME_MIN,
    PAYLOAD_MAX_BYTES,
    RETRIES_MAX,
    TIMEOUT_MAX,
    URL_MAX,
)
from ...limits import EMAIL_MAX as EMAIL_MAX  # re-exported: services.tenants checks it
from ..domain import addresses, cron, hashed, targets
from ..domain.errors import InvalidInput, TooLarge
from ..domain.model import CatchUp, JobType, Overlap
from ..domain.overlap import POLICIES
from ..domain.pings import DEFAULT_GRACE_SECONDS, GRACE_MAX_SECONDS
from ..domain.policies import DEFAULT_TIMEOUT_SECONDS
from ..domain.records import JobSpec
from ..domain.timefmt import parse_duration

_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\"<>,;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def job_name(name: str, field: str = "name") -> str:
    if len(name) < NAME_MIN:
        raise InvalidInput(f"{field}: must be at least {NAME_MIN} characters")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"{field}: must be at most {NAME_MAX} characters")
    if name != name.strip():
        raise InvalidInput(f"{field}: must not start or end with white space")
    if _CONTROL.search(name) or "," in name:
        raise InvalidInput(f"{field}: must not contain commas or control characters")
    return name


def plain_name(name: str, field: str = "name") -> str:
    """Names of environments and keys: 1..200 characters, no control characters."""
    if not name.strip():
        raise InvalidInput(f"{field}: must not be empty")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"{field}: must be at most {NAME_MAX} characters")
    if _CONTROL.search(name):
        raise InvalidInput(f"{field}: must not contain control characters")
    return name


def _keys(value: Any) -> int:
    """Object keys at every level of a JSON value (its depth is capped at the door)."""
    if isinstance(value, dict):
        return len(value) + sum(_keys(v) for v in value.values())
    if isinstance(value, list):
        return sum(_keys(v) for v in value)
    return 0


def metadata(value: dict[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    count = _keys(value)
    if count > METADATA_MAX_KEYS:
        raise InvalidInput(f"metadata: {count} keys in all, at most {METADATA_MAX_KEYS}")
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > METADATA_MAX_BYTES:
        raise InvalidInput(f"metadata: {size} bytes as JSON, at most {METADATA_MAX_BYTES}")
    return value


def timeout(value: int | None) -> int:
    if value is None:
        return DEFAULT_TIMEOUT_SECONDS
    if value <= 0 or value > TIMEOUT_MAX:
        raise InvalidInput(f"timeout_seconds: must be between 1 and {TIMEOUT_MAX} (24 h)")
    return value


def timeout_field(seconds: int | None, text: str | int | None) -> int | None:
    """``timeout_seconds``, or the response's ``timeout`` ("30s", "5m", "1h30m") sent back
    as input; both given must agree."""
    if text is None:
        return seconds
    parsed = text if isinstance(text, int) else parse_duration(text)
    if parsed is None:
        raise InvalidInput(
            f"timeout: {str(text)[:50]!r} is not a duration such as 30s, 5m or 1h30m"
        )
    if seconds is not None and seconds != parsed:
        raise InvalidInput(
            f"timeout: {text!r} disagrees with timeout_seconds {seconds}: send one of them"
        )
    return parsed


def max_retries(value: int | None) -> int:
    if value is None:
        return 0
    if not 0 <= value <= RETRIES_MAX:
        raise InvalidInput(f"max_retries: must be between 0 and {RETRIES_MAX}")
    return value


def webhook_url(value: str, field: str = "webhook_url", *, allow_private: bool = False) -> str:
    """A push target: at most URL_MAX characters, and allowed by the address policy
    (domain/addresses.py: scheme, credentials, host, port, literal and named addresses)."""
    if len(value) > URL_MAX:
        raise InvalidInput(f"{field}: at most {URL_MAX} characters")
    try:
        addresses.check_url(value, allow_private=allow_private)
    except addresses.AddressRefused as exc:
        msg = str(exc)
        raise InvalidInput(msg if msg.startswith(field) else f"{field}: {msg}") from None
    return value


LOCAL_PART_MAX = 64  # RFC 5321, 4.5.3.1.1: no mail server takes a longer one


def email(value: str) -> str:
    v = value.strip()
    if (len(v) > EMAIL_MAX or not _EMAIL.match(v)
            or len(v.rpartition("@")[0]) > LOCAL_PART_MAX):
        raise InvalidInput(f"email: {value[:100]!r} is not a well-formed email address")
    return v


ALERT_COUNT_MAX = 1000
DURATION_LIMIT_MAX = 7 * 24 * 3600
WINDOW_MIN, WINDOW_MAX = 60, 90 * 24 * 3600


def bounded(field: str, value: int | None, low: int, high: int) -> int | None:
    """An optional whole number within [low, high] (None stays None: the rule is off)."""
    if value is None:
        return None
    if not low <= value <= high:
        raise InvalidInput(f"{field}: must be between {low} and {high}")
    return value


def alert_rules(body: dict[str, Any]) -> dict[str, Any]:
    """The alert fields of a definition (issue 19), checked; absent ones take defaults."""
    after = bounded("alert_after_failures", body.get("alert_after_failures"), 1,
                    ALERT_COUNT_MAX)
    return {
        "alert_after_failures": after or 1,
        "max_duration_seconds": bounded("max_duration_seconds",
                                        body.get("max_duration_seconds"), 1,
                                        DURATION_LIMIT_MAX),
        "success_within_seconds": bounded("success_within_seconds",
                                          body.get("success_within_seconds"), WINDOW_MIN,
                                          WINDOW_MAX),
        "pause_after_failures": bounded("pause_after_failures",
                                        body.get("pause_after_failures"), 1, ALERT_COUNT_MAX),
        "remind_every_seconds": bounded("remind_every_seconds",
                                        body.get("remind_every_seconds"), WINDOW_MIN,
                                        WINDOW_MAX),
    }


def job_type(spec: JobSpec, body: dict[str, Any], new_uuid: str) -> JobSpec:
    """The optional ``type`` and ``grace_seconds`` of a definition. ``type`` may only
    confirm the kind the other fields give, or ask for ``heartbeat``: a job Schedo does not
    run, which waits ``grace_seconds`` (default 3600) after each tick for a ping. A heartbeat
    job has no webhook_url, command, retries or timeout, and never overlaps itself."""
    kind, grace = body.get("type"), body.get("grace_seconds")
    if kind is not None and kind not in [t.value for t in JobType]:
        raise InvalidInput("type: must be one of sdk, push, command, heartbeat")
    if kind != JobType.HEARTBEAT.value:
        if kind is not None and kind != spec.type.value:
            raise InvalidInput(f"type: {kind!r} disagrees with the other fields, which "
                               f"define a {spec.type.value} job")
        if grace is not None:
            raise InvalidInput("grace_seconds: only a heartbeat job has a grace time")
        return spec
    if spec.type is not JobType.SDK:
        raise InvalidInput("type: a heartbeat job has no webhook_url or command")
    if body.get("max_retries") not in (None, 0):
        raise InvalidInput("max_retries: a heartbeat job has no retries")
    # timeout_seconds / timeout are ignored: a heartbeat job's window is grace_seconds (a
    # job read back and sent again carries them)
    g = bounded("grace_seconds", grace, 1, GRACE_MAX_SECONDS) or DEFAULT_GRACE_SECONDS
    return replace(spec, type=JobType.HEARTBEAT, blocking=True, max_retries=0,
                   timeout_seconds=g, grace_seconds=g, ping_uuid=new_uuid)


def catch_up(value: str | None) -> CatchUp:
    if value is None:
        return CatchUp.LATEST
    try:
        return CatchUp(value)
    except ValueError:
        raise InvalidInput("catch_up: must be one of none, latest, all") from None


def schedule(
    expression: str, timezone: str | None, seed: str | None = None
) -> tuple[str, str]:
    """A valid schedule and its zone. ``seed`` (the job's, ``hashed.seed_of``) resolves ``H``
    fields; without it an ``H`` is refused."""
    tz = timezone or "UTC"
    try:
        if hashed.uses_hash(expression):
            if seed is None:
                raise cron.CronError("schedule: H fields need a job (environment and name)")
            cron.parse(hashed.resolve(expression, seed), tz)
        else:
            cron.parse(expression, tz)
    except cron.CronError as exc:
        msg = str(exc)
        if not (msg.startswith("schedule") or msg.startswith("timezone")):
            msg = f"schedule: {msg}"
        raise InvalidInput(msg) from None
    return expression, tz


def definition(
    *,
    name: str,
    schedule_expr: str,
    timezone: str | None,
    blocking: bool | None,
    metadata_value: dict[str, Any] | None,
    timeout_seconds: int | None,
    webhook: str | None,
    retries: int | None,
    catch_up_value: str | None,
    command: str | None, allow_private: bool = False,
    target_value: Any = None,
    seed: str | None = None,
    jitter: int | None = None,
    crons: list[str] | None = None,
    overlap: str | None = None,
    max_concurrency: int | None = None,
) -> JobSpec:
    expr, tz = schedule(schedule_expr, timezone, seed)
    extra = crons_field(crons, tz, seed)
    policy, limit = overlap_field(overlap, blocking, max_concurrency)
    if webhook is not None and command is not None:
        raise InvalidInput("command: a job has either a webhook_url or a command, not both")
    if command is not None:
        command_text(command)
    kind = JobType.PUSH if webhook else JobType.COMMAND if command is not None else JobType.SDK
    if target_value is not None and kind is not JobType.COMMAND:
        raise InvalidInput("target: only command jobs have a target (give a command)")
    return JobSpec(
        name=job_name(name),
        type=kind,
        cron_expression=expr,
        timezone=tz,
        catch_up=catch_up(catch_up_value),
        blocking=policy != Overlap.ALLOW,
        timeout_seconds=timeout(timeout_seconds),
        max_retries=max_retries(retries),
        metadata=metadata(metadata_value),
        webhook_url=webhook_url(webhook, allow_private=allow_private) if webhook else None,
        command=command,
        target=targets.target(target_value),
        jitter_seconds=jitter_seconds(jitter),
        crons=extra,
        overlap=policy,
        max_concurrency=limit,
    )


def command_text(command: str) -> str:
    if not command.strip():
        raise InvalidInput("command: must not be empty")
    if len(command) > COMMAND_MAX:
        raise InvalidInput(f"command: at most {COMMAND_MAX} characters")
    if "\x00" in command:
        raise InvalidInput("command: must not contain NUL characters")
    return command


CONCURRENCY_MAX = 1000


def overlap_field(
    value: str | None, blocking: bool | None, limit: int | None
) -> tuple[str, int | None]:
    """The overlap policy and concurrency limit; ``blocking`` maps onto the policy (true =
    skip, false = allow) and must agree with an ``overlap`` given beside it."""
    if value is None:
        value = (Overlap.SKIP if blocking else Overlap.ALLOW).value
    elif value not in POLICIES:
        raise InvalidInput("overlap: must be one of skip, allow, buffer_one, cancel_other")
    elif blocking is not None and blocking != (value != Overlap.ALLOW):
        raise InvalidInput(f"blocking: {str(blocking).lower()} disagrees with overlap "
                           f"{value!r} (blocking true is skip, false is allow): send one")
    if limit is not None:
        if not 1 <= limit <= CONCURRENCY_MAX:
            raise InvalidInput(f"max_concurrency: must be between 1 and {CONCURRENCY_MAX}")
        if value != Overlap.ALLOW and limit != 1:
            raise InvalidInput(f"max_concurrency: overlap {value!r} runs one at a time; "
                               "a limit needs overlap 'allow'")
        if value != Overlap.ALLOW:
            limit = None
    return value, limit


CRONS_MAX = 20


def crons_field(value: list[str] | None, tz: str, seed: str | None) -> tuple[str, ...]:
    """More expressions beside ``schedule`` (the job fires at the union), each valid."""
    if not value:
        return ()
    if len(value) > CRONS_MAX:
        raise InvalidInput(f"crons: at most {CRONS_MAX} expressions")
    out = []
    for i, expr in enumerate(value):
        try:
            schedule(expr, tz, seed)
        except InvalidInput as exc:
            raise InvalidInput(f"crons.{i}: {exc}") from None
        out.append(expr.strip())
    return tuple(dict.fromkeys(out))  # a repeated expression adds nothing


def jitter_seconds(value: int | None) -> int:
    if value is None:
        return 0
    if not 0 <= value <= JITTER_MAX:
        raise InvalidInput(f"jitter_seconds: must be between 0 and {JITTER_MAX} (1 h)")
    return value


SKIP_NEXT_MAX = 1000


def instant(value: str, field: str) -> datetime:
    """An RFC 3339 date-time with an offset (``2027-01-01T06:00:00+01:00``, ``...Z``), as an
    aware UTC datetime with whole milliseconds (what the database stores)."""
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        dt = None
    if dt is None or dt.tzinfo is None or dt.utcoffset() is None:
        raise InvalidInput(
            f"{field}: {value[:60]!r} is not an RFC 3339 date-time with an offset, such as "
            "2027-01-01T06:00:00Z"
        )
    try:
        out = dt.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is past the end of datetime
        out = dt.replace(year=1, tzinfo=UTC)
    if not 2000 <= out.year <= 2200:
        raise InvalidInput(f"{field}: must be between the years 2000 and 2200")
    return out.replace(microsecond=out.microsecond // 1000 * 1000)


def skip_next(value: int) -> int:
    if not 0 <= value <= SKIP_NEXT_MAX:
        raise InvalidInput(f"skip_next: must be between 0 and {SKIP_NEXT_MAX}")
    return value


def payload(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A manual trigger's payload: a JSON object of at most PAYLOAD_MAX_BYTES (413 above)."""
    if value is None:
        return None
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > PAYLOAD_MAX_BYTES:
        raise TooLarge(f"payload: {size} bytes as JSON, at most {PAYLOAD_MAX_BYTES} (64 KiB)")
    return value
