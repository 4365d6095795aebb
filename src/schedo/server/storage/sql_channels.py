"""Alert channels of an environment (contract: contracts.ChannelStore)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..domain.audit import Action, Actor, Kind, channel_changes
from ..domain.errors import Collision, Conflict, NotFound
from ..domain.records import Channel
from . import audit_rows
from .db import Database
from .schema import alert_channels

ch_ = alert_channels.c


def channel(r: Any) -> Channel:
    return Channel(id=r.id, environment_id=r.environment_id, name=r.name, kind=r.kind,
                   addresses=list(r.addresses or []), url=r.url, created_at=r.created_at)


def duplicate(name: str) -> Conflict:
    return Conflict(f"name: a channel named {name!r} exists in this environment")


class ChannelSql:
    db: Database

    async def create_channel(self, env_id: int, name: str, kind: str,
                             addresses: Sequence[str], url: str | None,
                             now: datetime, actor: Actor | None = None) -> Channel:
        try:
            async with self.db.write() as c:
                r = (await c.execute(alert_channels.insert().values(
                    environment_id=env_id, name=name, kind=kind,
                    addresses=list(addresses) or None, url=url, created_at=now,
                ).returning(*alert_channels.c))).one()
                await audit_rows.record(c, env_id, actor, now, Action.CREATED, Kind.CHANNEL,
                                        r.id, name, channel_changes(None, channel(r)))
        except (IntegrityError, Collision):
            raise duplicate(name) from None
        return channel(r)

    async def list_channels(self, env_id: int) -> list[Channel]:
        async with self.db.read() as c:
            res = await c.execute(select(alert_channels)
                                  .where(ch_.environment_id == env_id).order_by(ch_.id))
            return [channel(r) for r in res]

    async def get_channel(self, env_id: int, channel_id: int) -> Channel:
        async with self.db.read() as c:
            r = (await c.execute(select(alert_channels).where(
                ch_.id == channel_id, ch_.environment_id == env_id))).first()
        if r is None:
            raise NotFound(f"channel {channel_id} not found")
        return channel(r)

    async def update_channel(self, env_id: int, channel_id: int, name: str, kind: str,
                             addresses: Sequence[str], url: str | None,
                             actor: Actor | None = None, now: datetime | None = None,
                             ) -> Channel:
        try:
            async with self.db.write() as c:
                old = (await c.execute(self.db.for_update(select(alert_channels).where(
                    ch_.id == channel_id, ch_.environment_id == env_id)))).first()
                r = (await c.execute(
                    update(alert_channels)
                    .where(ch_.id == channel_id, ch_.environment_id == env_id)
                    .values(name=name, kind=kind, addresses=list(addresses) or None, url=url)
                    .returning(*alert_channels.c))).first()
                changes = channel_changes(channel(old), channel(r)) if old and r else {}
                if changes and now is not None:
                    await audit_rows.record(c, env_id, actor, now, Action.CHANGED,
                                            Kind.CHANNEL, channel_id, name, changes)
        except (IntegrityError, Collision):
            raise duplicate(name) from None
        if r is None:
            raise NotFound(f"channel {channel_id} not found")
        return channel(r)

    async def delete_channel(self, env_id: int, channel_id: int, actor: Actor | None = None,
                             now: datetime | None = None) -> Channel:
        async with self.db.write() as c:
            r = (await c.execute(
                delete(alert_channels)
                .where(ch_.id == channel_id, ch_.environment_id == env_id)
                .returning(*alert_channels.c))).first()
            if r is not None and now is not None:
                await audit_rows.record(c, env_id, actor, now, Action.DELETED, Kind.CHANNEL,
                                        channel_id, r.name)
        if r is None:
            raise NotFound(f"channel {channel_id} not found")
        return channel(r)
