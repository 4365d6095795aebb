"""Writing an audit event inside the transaction of the change it records (issue 22)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.audit import Actor, AuditEvent
from .db import Conn
from .schema import audit_events

NAME_MAX = 200


async def record(
    c: Conn, env_id: int, actor: Actor | None, now: datetime, action: str, kind: str,
    object_id: int | None, object_name: str, changes: dict[str, list[Any]] | None = None,
) -> None:
    """One event in the caller's transaction; nothing without an actor (internal calls)."""
    if actor is None:
        return
    await c.execute(audit_events.insert().values(
        environment_id=env_id, at=now, actor_key_id=actor.key_id, actor_user_id=actor.user_id,
        actor_name=actor.key_name[:NAME_MAX], via=actor.via, action=action,
        object_kind=kind, object_id=object_id, object_name=object_name[:NAME_MAX],
        changes=changes or {},
    ))


def event(r: Any) -> AuditEvent:
    return AuditEvent(
        id=r.id, environment_id=r.environment_id, at=r.at, actor_key_id=r.actor_key_id,
        actor_name=r.actor_name, via=r.via, action=r.action, object_kind=r.object_kind,
        object_id=r.object_id, object_name=r.object_name, changes=dict(r.changes or {}),
        actor_user_id=r.actor_user_id,
    )
