"""Writing an audit event inside the transaction of the change it records (issue 22)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert

from ..domain.audit import Actor, AuditEvent
from .db import Conn
from .prepared import Prepared
from .schema import audit_events

NAME_MAX = 200

_COLUMNS = ("environment_id", "at", "actor_key_id", "actor_user_id", "actor_name", "via",
            "action", "object_kind", "object_id", "object_name", "changes")
# built once, every value bound (RETURNING: a row-returning driver statement on SQLite,
# prepared.py); was an insert built and compiled per event
_INSERT = Prepared(
    insert(audit_events)
    .values({c: bindparam(f"v_{c}", type_=audit_events.c[c].type) for c in _COLUMNS})
    .returning(audit_events.c.id)
)


async def record(
    c: Conn, env_id: int, actor: Actor | None, now: datetime, action: str, kind: str,
    object_id: int | None, object_name: str, changes: dict[str, list[Any]] | None = None,
) -> None:
    """One event in the caller's transaction; nothing without an actor (internal calls)."""
    if actor is None:
        return
    await _INSERT.all(c, {
        "v_environment_id": env_id, "v_at": now, "v_actor_key_id": actor.key_id,
        "v_actor_user_id": actor.user_id, "v_actor_name": actor.key_name[:NAME_MAX],
        "v_via": actor.via, "v_action": action, "v_object_kind": kind,
        "v_object_id": object_id, "v_object_name": object_name[:NAME_MAX],
        "v_changes": changes or {},
    })


def event(r: Any) -> AuditEvent:
    return AuditEvent(
        id=r.id, environment_id=r.environment_id, at=r.at, actor_key_id=r.actor_key_id,
        actor_name=r.actor_name, via=r.via, action=r.action, object_kind=r.object_kind,
        object_id=r.object_id, object_name=r.object_name, changes=dict(r.changes or {}),
        actor_user_id=r.actor_user_id,
    )
