"""Replacing an organisation's admin keys inside a write transaction: the one way both the
local rotation (``schedo admin-key --rotate``, ``TenantSql.rotate_admin_key``) and the
dashboard's (``SecretSql.replace_admin_key``) do it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update

from ..domain.audit import Action, Actor, Kind
from . import audit_rows
from .db import Conn
from .schema import api_keys


async def swap(c: Conn, org_id: int, prefix: str, digest: str,
               now: datetime) -> tuple[Sequence[Any], Any]:
    """Revoke every unrevoked admin key of ``org_id`` and insert the new one: (the revoked
    keys' (id, name) rows, the new key's row)."""
    gone = (await c.execute(
        update(api_keys)
        .where(api_keys.c.organization_id == org_id, api_keys.c.admin.is_(True),
               api_keys.c.revoked.is_(False))
        .values(revoked=True, revoked_at=now)
        .returning(api_keys.c.id, api_keys.c.name)
    )).all()
    new = (await c.execute(
        api_keys.insert().values(
            organization_id=org_id, environment_id=None, name="admin (rotated)",
            prefix=prefix, digest=digest, admin=True, internal=True, revoked=False,
            created_at=now,
        ).returning(*api_keys.c)
    )).one()
    return gone, new


async def record_swap(c: Conn, env_id: int, actor: Actor | None, now: datetime,
                      gone: Sequence[Any], new: Any) -> None:
    """The audit events of a swap, in ``env_id``: each revocation, then the creation."""
    for key_id, name, action in [*((k.id, k.name, Action.REVOKED) for k in gone),
                                 (new.id, new.name, Action.CREATED)]:
        await audit_rows.record(c, env_id, actor, now, action, Kind.API_KEY, key_id, name)
