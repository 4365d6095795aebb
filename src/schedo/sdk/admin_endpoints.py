"""The Schedo extensions that manage an organisation rather than run jobs, as ``Call``
descriptions (one function each, like ``endpoints.py``): the webhook signing secret and its
rotation, alert channels, the audit log, sent notifications, a schedule's explanation and the
chains of jobs and runs. Their answers are plain JSON objects (``dict``), read as the server
sends them: these shapes are Schedo's own (docs/api.md), not the hosted service's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .calls import Call, _id, _list, _obj

JSON = dict[str, Any]


_one = _obj(dict)  # an object, as the server sent it
_many = _list(_one)


def _query(**values: Any) -> dict[str, str | int | float]:
    return {k: v for k, v in values.items() if v is not None}


def _instant(at: str | int | datetime | None) -> str | int | None:
    """RFC 3339 text or Unix seconds as given; a ``datetime`` as RFC 3339 (naive means UTC)."""
    if isinstance(at, datetime):
        return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).isoformat()
    return at


# -- the environment's webhook signing secret (admin keys) -------------------------------------


def webhook_secret(environment_id: int) -> Call[JSON]:
    """``GET /org/environments/{id}/webhook-secret``: the signing key and, during a rotation's
    overlap, when the previous one stops signing (``previous_valid_until``)."""
    return Call("GET", f"/org/environments/{_id(environment_id)}/webhook-secret", _one)


def rotate_webhook_secret(environment_id: int, overlap_seconds: int | None = None) -> Call[JSON]:
    """``POST /org/environments/{id}/webhook-secret/rotate``: a new signing key; the old one
    signs beside it for ``overlap_seconds`` (0 to 7 days; the server's default is 24 h)."""
    body: JSON = {} if overlap_seconds is None else {"overlap_seconds": overlap_seconds}
    return Call("POST", f"/org/environments/{_id(environment_id)}/webhook-secret/rotate", _one,
                body=body)


# -- alert channels ----------------------------------------------------------------------------


def _channel(name: str, kind: str, addresses: Sequence[str] | None, url: str | None) -> JSON:
    body: JSON = {"name": name, "kind": kind}
    if addresses is not None:
        body["addresses"] = list(addresses)
    if url is not None:
        body["url"] = url
    return body


def list_channels() -> Call[list[JSON]]:
    return Call("GET", "/org/channels", _many)


def get_channel(channel_id: int) -> Call[JSON]:
    return Call("GET", f"/org/channels/{_id(channel_id)}", _one)


def create_channel(
    name: str, kind: str, *, addresses: Sequence[str] | None = None, url: str | None = None
) -> Call[JSON]:
    """``POST /org/channels``: ``kind`` email (with ``addresses``), webhook or slack (``url``)."""
    return Call("POST", "/org/channels", _one, body=_channel(name, kind, addresses, url))


def replace_channel(
    channel_id: int, name: str, kind: str, *, addresses: Sequence[str] | None = None,
    url: str | None = None,
) -> Call[JSON]:
    return Call("PUT", f"/org/channels/{_id(channel_id)}", _one,
                body=_channel(name, kind, addresses, url))


def delete_channel(channel_id: int) -> Call[JSON]:
    return Call("DELETE", f"/org/channels/{_id(channel_id)}", _one)


# -- what happened: audit log, notifications, explanations, chains -----------------------------


def list_audit(
    *, job_id: int | None = None, action: str | None = None, actor_key_id: int | None = None,
    since: str | None = None, until: str | None = None, cursor: int | None = None,
    limit: int = 50,
) -> Call[list[JSON]]:
    """``GET /audit``: the environment's audit events, newest first; ``cursor``: the events
    with ids below it (the last id of the previous page)."""
    return Call("GET", "/audit", _many, params=_query(
        job_id=job_id, action=action, actor_key_id=actor_key_id, since=since, until=until,
        cursor=cursor, limit=limit))


def list_notifications(*, job_id: int | None = None, limit: int = 50) -> Call[list[JSON]]:
    """``GET /org/notifications``: the alert notifications sent (or being sent), newest first."""
    return Call("GET", "/org/notifications", _many, params=_query(job_id=job_id, limit=limit))


def explain_job(job_id: int, at: str | int | datetime | None = None) -> Call[JSON]:
    """``GET /jobs/{id}/explain``: whether the schedule fires at ``at`` (default: now) and what
    happened or will happen then (docs/semantics.md, "Why did or didn't it run")."""
    return Call("GET", f"/jobs/{_id(job_id)}/explain", _one, params=_query(at=_instant(at)))


def job_chain(job_id: int) -> Call[JSON]:
    """``GET /jobs/{id}/chain``: the jobs it runs after and the jobs that run after it."""
    return Call("GET", f"/jobs/{_id(job_id)}/chain", _one)


def run_chain(execution_id: int) -> Call[JSON]:
    """``GET /jobs/executions/{id}/chain``: the runs that caused this one and those it caused."""
    return Call("GET", f"/jobs/executions/{_id(execution_id)}/chain", _one)
