"""The audit log (issue 22): who changed what, when, and the before/after of each field.

Pure: the records, the action names, and the diff of two definitions. Storage writes an
event in the transaction of the change it records (``storage/audit_rows.py``), so a change
that is refused or fails records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from .definitions import same
from .records import Channel, Job


class Action(StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    PAUSED = "paused"
    RESUMED = "resumed"
    MUTED = "muted"
    UNMUTED = "unmuted"
    TRIGGERED = "triggered"
    BACKFILLED = "backfilled"
    RERUN = "rerun"
    DELETED = "deleted"
    REVOKED = "revoked"
    ROTATED = "rotated"  # an environment's webhook signature key
    SIGNED_IN = "signed_in"  # a user's new dashboard session (password or OIDC)
    SIGNED_OUT = "signed_out"  # a user ended their own session (Sign out)
    SIGN_IN_REFUSED = "sign_in_refused"  # a known address with a wrong password, or disabled


class Via(StrEnum):
    API = "api"
    DASHBOARD = "dashboard"
    CLI = "cli"  # as the client declares it (x-schedo-via): the key stays the actor
    WORKER = "worker"
    SYSTEM = "system"  # the server itself (a pause after repeated failures)


class Kind(StrEnum):
    JOB = "job"
    API_KEY = "api_key"
    ENVIRONMENT = "environment"
    CHANNEL = "channel"
    EMAIL = "email"  # an organisation's notification address
    USER = "user"  # issue 22, people
    SESSION = "session"
    INVITATION = "invitation"


ACTIONS = frozenset(a.value for a in Action)

# shown as "changed", never with their values (secrets of a definition)
SECRET = "changed"
SECRET_FIELDS = frozenset({"ping_uuid", "webhook_signature_key", "key", "digest", "secret"})

# what a definition is made of: the fields a "changed" event compares (state a run changes,
# such as status or next_run_at, is no definition)
JOB_FIELDS = (
    "type", "cron_expression", "crons", "timezone", "catch_up", "blocking", "overlap",
    "max_concurrency", "timeout_seconds", "max_retries", "metadata", "webhook_url", "command",
    "target", "jitter_seconds", "alert_after_failures", "max_duration_seconds",
    "success_within_seconds", "pause_after_failures", "grace_seconds", "channels",
    "remind_every_seconds", "after", "paused", "paused_until", "skip_next", "muted",
)

_SORTED_JOB_FIELDS = tuple(sorted(JOB_FIELDS))  # diff's order


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the API key (its id and name) and the way in ("api", "dashboard")."""

    key_id: int | None
    key_name: str  # the key's name, or a user's email address
    via: str = Via.API.value
    user_id: int | None = None  # a user signed in to the dashboard (then key_id is None)


SYSTEM = Actor(key_id=None, key_name="system", via=Via.SYSTEM.value)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    environment_id: int
    at: datetime
    actor_key_id: int | None
    actor_name: str
    via: str
    action: str
    object_kind: str
    object_id: int | None
    object_name: str
    changes: dict[str, list[Any]] = field(default_factory=dict)
    actor_user_id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A page of an environment's events, newest first (ids < ``cursor``)."""

    job_id: int | None = None
    action: str | None = None
    actor_key_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: int | None = None
    limit: int = 50


def plain(value: Any) -> Any:
    """A value as JSON can hold it: enums by value, instants as RFC 3339, tuples as lists."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any],
    secret: frozenset[str] = SECRET_FIELDS,
) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for each field whose value really changed (a field
    missing on one side counts as None); a secret field's values are never given, only
    ``"changed"``."""
    out: dict[str, list[Any]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = plain(before.get(name)), plain(after.get(name))
        if _same(old, new):
            continue
        out[name] = [SECRET, SECRET] if name in secret else [old, new]
    return out


def _same(a: Any, b: Any) -> bool:
    # () and None, [] and None are the same "nothing" for optional lists (crons, channels);
    # otherwise as strict as what a redefinition writes (definitions.same: {"a": 1} is not
    # {"a": true}), so a write always records what it changed
    if (a in ((), []) and b is None) or (b in ((), []) and a is None):
        return True
    return same(a, b)


def channel_changes(before: Channel | None, after: Channel | None) -> dict[str, list[Any]]:
    """The fields of an alert channel that changed; its URL (a Slack or webhook URL holds a
    secret) only as "changed"."""
    def fields(ch: Channel | None) -> dict[str, Any]:
        return {} if ch is None else {"name": ch.name, "kind": ch.kind,
                                      "addresses": list(ch.addresses), "url": ch.url}
    return diff(fields(before), fields(after), SECRET_FIELDS | {"url"})


def job_fields(job: Job) -> dict[str, Any]:
    """The definition fields of a job (what ``job_changes`` compares)."""
    return {name: plain(getattr(job, name)) for name in JOB_FIELDS}


def job_changes(before: Job | None, after: Job | None) -> dict[str, list[Any]]:
    """The fields of the definition that changed (all of them for a new job, as [None,
    value] with None-valued fields left out)."""
    if before is None or after is None:
        return diff(job_fields(before) if before is not None else {},
                    job_fields(after) if after is not None else {})
    # what ``diff`` of the two ``job_fields`` gives, without making either: a field whose
    # values are already the same (most of them: a redefinition changes one or two) is
    # skipped before its values are made plain
    out: dict[str, list[Any]] = {}
    for name in _SORTED_JOB_FIELDS:
        a, b = getattr(before, name), getattr(after, name)
        if same(a, b):
            continue
        old, new = plain(a), plain(b)
        if not _same(old, new):
            out[name] = [SECRET, SECRET] if name in SECRET_FIELDS else [old, new]
    return out
