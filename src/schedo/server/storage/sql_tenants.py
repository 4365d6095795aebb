"""Organisations, environments, API keys and server facts (contract: contracts.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, literal, select, update

from ..domain.audit import Action, Actor, Kind
from ..domain.errors import Collision, Conflict, NotFound
from ..domain.records import ApiKey, Environment, Organization
from . import admin_key_rows, audit_rows, cascade, locks, rows
from .db import Conn, Database
from .prepared import Prepared
from .schema import EpochMs, api_keys, environments, org_emails, organizations, server_meta
from .sealing import Sealer, env_context

PEPPER_KEY = "api_key_pepper"


def _resolve_statement(wanted: bool) -> Select[Any]:
    """The key by its prefix, with the environment it acts on: the wanted one if it belongs
    to the key's organisation, else (no header) the organisation's first. Built once."""
    envs = environments.alias("e")
    org = api_keys.c.organization_id
    if wanted:
        env_q = select(envs.c.id).where(
            envs.c.id == bindparam("wanted"), envs.c.organization_id == org
        )
    else:
        env_q = select(func.min(envs.c.id)).where(envs.c.organization_id == org)
    return select(api_keys, env_q.scalar_subquery().label("resolved_env")).where(
        api_keys.c.prefix == bindparam("prefix")
    )


# the key lookup of every request: driver statements on SQLite (prepared.py)
_RESOLVE_ENV = Prepared(_resolve_statement(True))
_RESOLVE_FIRST_ENV = Prepared(_resolve_statement(False))


class TenantSql:
    db: Database
    sealer: Sealer

    def _env(self, r: Any) -> Environment:
        return rows.environment(r, self.sealer.signing_key(r.webhook_signature_key, r.id))

    # -- organisation ------------------------------------------------------------------------
    async def bootstrap(
        self,
        *,
        org_name: str,
        env_name: str,
        signature_key: str,
        admin_prefix: str,
        admin_digest: str,
        pepper: str,
        now: datetime,
    ) -> bool:
        try:
            async with self.db.write() as c:
                if (await c.execute(select(organizations.c.id).limit(1))).first() is not None:
                    return False
                await c.execute(server_meta.insert().values(key=PEPPER_KEY, value=pepper))
                await c.execute(organizations.insert().values(id=1, name=org_name, created_at=now))
                await c.execute(
                    environments.insert().values(
                        id=1,
                        organization_id=1,
                        name=env_name,
                        webhook_signature_key=self.sealer.seal(signature_key, env_context(1)),
                        created_at=now,
                    )
                )
                await c.execute(
                    api_keys.insert().values(
                        organization_id=1,
                        environment_id=None,
                        name="admin",
                        prefix=admin_prefix,
                        digest=admin_digest,
                        admin=True,
                        internal=True,
                        revoked=False,
                        created_at=now,
                    )
                )
                await self.db.sequences_past_explicit_ids(c, ("organizations", "environments"))
            return True
        except Collision:  # another process bootstrapped at the same moment
            return False

    async def get_meta(self, key: str) -> str | None:
        async with self.db.read() as c:
            value: str | None = (
                await c.execute(select(server_meta.c.value).where(server_meta.c.key == key))
            ).scalar_one_or_none()
            return value

    async def get_org(self, org_id: int) -> Organization:
        async with self.db.read() as c:
            r = (await c.execute(select(organizations).where(organizations.c.id == org_id))).first()
        if r is None:
            raise NotFound(f"organization {org_id} not found")
        return rows.org(r)

    async def create_org(self, name: str, now: datetime) -> Organization:
        async with self.db.write() as c:
            r = (
                await c.execute(
                    organizations.insert()
                    .values(name=name, created_at=now)
                    .returning(*organizations.c)
                )
            ).one()
        return rows.org(r)

    async def list_emails(self, org_id: int) -> list[str]:
        async with self.db.read() as c:
            return await _emails(c, org_id)

    async def add_email(
        self, org_id: int, email: str, now: datetime,
        actor: Actor | None = None, record_in: int | None = None,
    ) -> list[str]:
        async with self.db.write() as c:
            await locks.organization(self.db, c, org_id)  # one spelling check at a time
            if _spelled(await _emails(c, org_id), email):  # there already, in some case
                return await _emails(c, org_id)
            res = await c.execute(
                self.db.insert(org_emails)
                .values(organization_id=org_id, email=email, created_at=now)
                .on_conflict_do_nothing()
            )
            if res.rowcount and record_in is not None:  # added (not already there)
                await audit_rows.record(c, record_in, actor, now, Action.CREATED, Kind.EMAIL,
                                        None, email)
            return await _emails(c, org_id)

    async def remove_email(
        self, org_id: int, email: str, now: datetime | None = None,
        actor: Actor | None = None, record_in: int | None = None,
    ) -> list[str]:
        async with self.db.write() as c:
            await locks.organization(self.db, c, org_id)
            gone = _spelled(await _emails(c, org_id), email)
            res = await c.execute(
                org_emails.delete().where(
                    org_emails.c.organization_id == org_id, org_emails.c.email.in_(gone)
                )
            )
            if res.rowcount and record_in is not None and now is not None:  # it was there
                for spelling in gone:  # as it was stored
                    await audit_rows.record(c, record_in, actor, now, Action.DELETED,
                                            Kind.EMAIL, None, spelling)
            return await _emails(c, org_id)

    # -- environments ------------------------------------------------------------------------
    async def create_environment(
        self, org_id: int, name: str, signature_key: str, now: datetime,
        actor: Actor | None = None,
    ) -> Environment:
        async with self.db.write() as c:
            # the sealed key names its environment's id: insert, then seal under that id
            env_id = (
                await c.execute(
                    environments.insert()
                    .values(organization_id=org_id, name=name, webhook_signature_key="",
                            created_at=now)
                    .returning(environments.c.id)
                )
            ).scalar_one()
            r = (
                await c.execute(
                    update(environments)
                    .where(environments.c.id == env_id)
                    .values(webhook_signature_key=self.sealer.seal(signature_key,
                                                                   env_context(env_id)))
                    .returning(*environments.c)
                )
            ).one()
            await audit_rows.record(c, env_id, actor, now, Action.CREATED, Kind.ENVIRONMENT,
                                    env_id, name)
        return self._env(r)

    async def list_environments(self, org_id: int) -> list[Environment]:
        async with self.db.read() as c:
            res = await c.execute(
                select(environments)
                .where(environments.c.organization_id == org_id)
                .order_by(environments.c.id)
            )
            return [self._env(r) for r in res]

    async def get_environment(self, org_id: int, env_id: int) -> Environment:
        async with self.db.read() as c:
            r = (
                await c.execute(
                    select(environments).where(
                        environments.c.id == env_id, environments.c.organization_id == org_id
                    )
                )
            ).first()
        if r is None:
            raise NotFound(f"environment {env_id} not found")
        return self._env(r)

    async def delete_environment(
        self, org_id: int, env_id: int, actor: Actor | None = None,
        now: datetime | None = None, record_in: int | None = None,
    ) -> Environment:
        async with self.db.write() as c:
            await locks.organization(self.db, c, org_id)  # one delete counts at a time
            r = (
                await c.execute(
                    select(environments).where(
                        environments.c.id == env_id, environments.c.organization_id == org_id
                    )
                )
            ).first()
            if r is None:
                raise NotFound(f"environment {env_id} not found")
            count = (
                await c.execute(
                    select(func.count()).where(environments.c.organization_id == org_id)
                )
            ).scalar_one()
            if count <= 1:
                raise Conflict("environment: cannot delete the organization's last environment")
            await cascade.delete_environment(c, env_id)
            if actor is not None and now is not None:
                if record_in is None or record_in == env_id:  # the org's first one left
                    record_in = (await c.execute(select(func.min(environments.c.id)).where(
                        environments.c.organization_id == org_id))).scalar_one()
                await audit_rows.record(c, record_in, actor, now, Action.DELETED,
                                        Kind.ENVIRONMENT, env_id, r.name)
        return self._env(r)

    # -- API keys ----------------------------------------------------------------------------
    async def create_key(
        self,
        *,
        org_id: int,
        env_id: int | None,
        name: str,
        prefix: str,
        digest: str,
        admin: bool,
        internal: bool,
        now: datetime,
        actor: Actor | None = None,
        scope: str = "full",
    ) -> ApiKey:
        async with self.db.write() as c:
            r = (
                await c.execute(
                    api_keys.insert()
                    .values(
                        organization_id=org_id,
                        environment_id=env_id,
                        name=name,
                        prefix=prefix,
                        digest=digest,
                        admin=admin,
                        internal=internal,
                        revoked=False,
                        created_at=now,
                        scope=scope,
                    )
                    .returning(*api_keys.c)
                )
            ).one()
            if env_id is not None:
                await audit_rows.record(c, env_id, actor, now, Action.CREATED, Kind.API_KEY,
                                        r.id, name)
        return rows.api_key(r)

    async def find_key(self, prefix: str) -> ApiKey | None:
        async with self.db.read() as c:
            r = (await c.execute(select(api_keys).where(api_keys.c.prefix == prefix))).first()
        return None if r is None else rows.api_key(r)

    async def resolve_key(
        self, prefix: str, wanted_env: int | None
    ) -> tuple[ApiKey, int | None] | None:
        async with self.db.read() as c:
            if wanted_env is None:
                r = await _RESOLVE_FIRST_ENV.first(c, {"prefix": prefix})
            else:
                r = await _RESOLVE_ENV.first(c, {"prefix": prefix, "wanted": wanted_env})
        return None if r is None else (rows.api_key(r), r.resolved_env)

    async def access_alive(self, key_id: int, env_id: int) -> bool:
        async with self.db.read() as c:
            q = select(
                exists().where(api_keys.c.id == key_id, api_keys.c.revoked.is_(False)),
                exists().where(environments.c.id == env_id),
            )
            r = (await c.execute(q)).one()
        return bool(r[0]) and bool(r[1])

    async def _keep_an_admin_key(self, c: Conn, org_id: int, key_id: int) -> None:
        """Conflict if ``key_id`` is the organisation's last unrevoked admin key. The admin
        keys are locked (PostgreSQL) so two revocations cannot both pass."""
        q = select(api_keys.c.id).where(
            api_keys.c.organization_id == org_id,
            api_keys.c.admin.is_(True),
            api_keys.c.revoked.is_(False),
        )
        live = [r[0] for r in await c.execute(self.db.for_update(q))]
        if live == [key_id]:
            raise Conflict(
                "this is the organization's last admin key: revoking it would leave no key "
                "that can manage environments and keys. Rotate it instead with "
                "`schedo admin-key --rotate` on the server's host (docs/operations.md)"
            )

    async def rotate_admin_key(
        self, org_id: int, prefix: str, digest: str, now: datetime,
        actor: Actor | None = None,
    ) -> tuple[ApiKey, int]:
        """A new admin key for the organisation; every other admin key is revoked in the same
        transaction. Returns the new key and how many were revoked. Refused (Conflict) on
        PostgreSQL while a server process serves the database. With an ``actor``, the
        revocations and the creation are recorded in the organisation's first environment."""
        async with self.db.write() as c:
            await self.db.refuse_while_serving(c)
            gone, r = await admin_key_rows.swap(c, org_id, prefix, digest, now)
            first = (await c.execute(select(func.min(environments.c.id)).where(
                environments.c.organization_id == org_id))).scalar_one_or_none()
            if first is not None:
                await admin_key_rows.record_swap(c, first, actor, now, gone, r)
        return rows.api_key(r), len(gone)

    async def list_keys(self, org_id: int, env_id: int) -> list[ApiKey]:
        async with self.db.read() as c:
            res = await c.execute(
                select(api_keys)
                .where(api_keys.c.organization_id == org_id, api_keys.c.environment_id == env_id)
                .order_by(api_keys.c.id)
            )
            return [rows.api_key(r) for r in res]

    async def revoke_key(
        self, org_id: int, key_id: int, env_id: int | None, now: datetime,
        actor: Actor | None = None, record_in: int | None = None,
    ) -> ApiKey:
        cond = [api_keys.c.id == key_id, api_keys.c.organization_id == org_id]
        if env_id is not None:
            cond.append(api_keys.c.environment_id == env_id)
        async with self.db.write() as c:
            found = (await c.execute(select(api_keys.c.id, api_keys.c.revoked,
                                            api_keys.c.environment_id).where(*cond))).first()
            if found is None:  # out of scope answers as missing, before any other check
                raise NotFound(f"api key {key_id} not found")
            await self._keep_an_admin_key(c, org_id, key_id)
            r = (
                await c.execute(
                    update(api_keys)
                    .where(*cond)
                    .values(
                        revoked=True,
                        revoked_at=func.coalesce(api_keys.c.revoked_at, literal(now, EpochMs())),
                    )
                    .returning(*api_keys.c)
                )
            ).first()
            where = found.environment_id or record_in  # an admin key: where the actor works
            if r is not None and not found.revoked and where is not None:
                await audit_rows.record(c, where, actor, now, Action.REVOKED, Kind.API_KEY,
                                        key_id, r.name)
        if r is None:
            raise NotFound(f"api key {key_id} not found")
        return rows.api_key(r)


def _spelled(stored: list[str], email: str) -> list[str]:
    """The stored spellings of ``email``: addresses compare without regard to case (mail
    systems deliver ``Ops@Example.com`` and ``ops@example.com`` to one mailbox)."""
    key = email.casefold()
    return [e for e in stored if e.casefold() == key]


async def _emails(c: Conn, org_id: int) -> list[str]:
    res = await c.execute(
        select(org_emails.c.email)
        .where(org_emails.c.organization_id == org_id)
        .order_by(org_emails.c.id)
    )
    return [r[0] for r in res]
