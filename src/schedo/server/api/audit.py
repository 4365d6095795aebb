"""``GET /audit`` (issue 22): who changed what and when, in the key's environment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from ...limits import MAX_ID, PAGE_MAX
from ..domain.audit import AuditEvent, AuditQuery
from ..domain.errors import InvalidInput
from ..domain.timefmt import rfc3339
from ..services import audit
from .deps import CanView, Digits, QueryId, Svc
from .jobs import parse_instant

router = APIRouter(tags=["audit"])



def _instant(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    if not text.isprintable():  # fromisoformat would take a NUL as the date-time separator
        raise InvalidInput(f"{name}: {text[:60]!r} is not an RFC 3339 instant")
    try:
        return parse_instant(text)
    except InvalidInput as exc:  # its message names ``at``
        raise InvalidInput(f"{name}:{str(exc).removeprefix('at:')}") from None


def shape(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "environment_id": e.environment_id,
        "at": rfc3339(e.at),
        "actor": {"key_id": e.actor_key_id, "user_id": e.actor_user_id, "name": e.actor_name,
                  "via": e.via},
        "action": e.action,
        "object": {"kind": e.object_kind, "id": e.object_id, "name": e.object_name},
        "changes": e.changes,
    }


@router.get("/audit")
async def list_events(
    svc: Svc,
    p: CanView,
    job_id: QueryId = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    actor_key_id: QueryId = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[int | None, Digits, Query(gt=0)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> list[dict[str, Any]]:
    """The environment's audit events, newest first; ``cursor``: ids below it (the last id
    of the previous page)."""
    if cursor is not None and cursor > MAX_ID:
        cursor = None  # "ids below 2^31": every id (and no int4 overflow on PostgreSQL)
    q = AuditQuery(job_id=job_id, action=action or None, actor_key_id=actor_key_id,
                   since=_instant("since", since), until=_instant("until", until),
                   cursor=cursor, limit=limit)
    return [shape(e) for e in await audit.events(svc, p, q)]
