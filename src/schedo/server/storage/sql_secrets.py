"""``SecretSql``: webhook signature key rotation with an overlap (contracts.SecretStore).

The current key stays in ``webhook_signature_key``; a rotation moves it, re-sealed under its
own context (``sealing.previous_context``), to ``previous_signature_key`` with the end of
the overlap, and seals the new key in its place, in one transaction."""

from __future__ import annotations

import hmac
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ..domain.audit import Action, Actor, Kind, plain
from ..domain.errors import Conflict, NotFound
from ..domain.records import ApiKey
from . import admin_key_rows, audit_rows, rows
from .contracts.secrets import SigningState, key_fingerprint
from .db import Database
from .schema import environments
from .sealing import Sealer, env_context, previous_context

_ENV = select(environments.c.id, environments.c.name, environments.c.webhook_signature_key,
              environments.c.previous_signature_key,
              environments.c.previous_signature_expires_at)


class SecretSql:
    db: Database
    sealer: Sealer

    def _state(self, r: Any, key: str, now: datetime) -> SigningState:
        until = r.previous_signature_expires_at
        return SigningState(environment_id=r.id, environment_name=r.name, key=key,
                            previous_valid_until=until if until is not None and until > now
                            else None)

    async def rotate_signature_key(
        self, org_id: int, env_id: int, new_key: str, now: datetime,
        previous_valid_until: datetime, *, actor: Actor | None = None,
        expected: str | None = None,
    ) -> SigningState:
        async with self.db.write() as c:
            r = (await c.execute(self.db.for_update(_ENV.where(
                environments.c.id == env_id, environments.c.organization_id == org_id)))).first()
            if r is None:
                raise NotFound(f"environment {env_id} not found")
            current = self.sealer.signing_key(r.webhook_signature_key, env_id)
            if expected is not None and not hmac.compare_digest(
                    key_fingerprint(current), expected):
                raise Conflict(f"the signing secret of {r.name} was rotated meanwhile (in "
                               "another tab, or this form was sent twice): nothing changed")
            keep = bool(current) and previous_valid_until > now
            values: dict[str, Any] = {
                "webhook_signature_key": self.sealer.seal(new_key, env_context(env_id)),
                "previous_signature_key": (self.sealer.seal(current, previous_context(env_id))
                                           if keep else None),
                "previous_signature_expires_at": previous_valid_until if keep else None,
            }
            await c.execute(update(environments).where(environments.c.id == env_id)
                            .values(**values))
            until = previous_valid_until if keep else None
            ended = self._state(r, current, now).previous_valid_until  # a running overlap
            await audit_rows.record(
                c, env_id, actor, now, Action.ROTATED, Kind.ENVIRONMENT, env_id, r.name,
                {"webhook_signature_key": ["changed", "changed"],
                 "previous_valid_until": [plain(ended), plain(until)]},
            )
        return SigningState(environment_id=env_id, environment_name=r.name, key=new_key,
                            previous_valid_until=until)

    async def signing_state(self, org_id: int, env_id: int, now: datetime) -> SigningState:
        async with self.db.read() as c:
            r = (await c.execute(_ENV.where(environments.c.id == env_id,
                                            environments.c.organization_id == org_id))).first()
        if r is None:
            raise NotFound(f"environment {env_id} not found")
        return self._state(r, self.sealer.signing_key(r.webhook_signature_key, env_id), now)

    async def previous_signature_keys(
        self, env_ids: Collection[int], now: datetime
    ) -> dict[int, str]:
        if not env_ids:
            return {}
        async with self.db.read() as c:
            res = await c.execute(
                select(environments.c.id, environments.c.previous_signature_key)
                .where(environments.c.id.in_(list(env_ids)),
                       environments.c.previous_signature_key.is_not(None),
                       environments.c.previous_signature_expires_at > now))
            found = {r.id: self.sealer.previous_key(r.previous_signature_key, r.id) for r in res}
        return {env_id: key for env_id, key in found.items() if key}

    async def replace_admin_key(
        self, org_id: int, acting_key_id: int, prefix: str, digest: str, now: datetime,
        *, actor: Actor | None = None, record_in: int | None = None,
    ) -> tuple[ApiKey, int]:
        async with self.db.write() as c:
            gone, r = await admin_key_rows.swap(c, org_id, prefix, digest, now)
            if acting_key_id not in {k.id for k in gone}:
                # revoked meanwhile (a rotation in another tab): refused, nothing changes
                raise Conflict("this admin key was revoked meanwhile: sign in with the new one")
            if record_in is not None:
                await admin_key_rows.record_swap(c, record_in, actor, now, gone, r)
        return rows.api_key(r), len(gone)
