"""Users, memberships, dashboard sessions and invitations (contract: contracts/people.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from ..domain.audit import Action, Actor, Kind, Via
from ..domain.errors import Conflict, NotFound
from ..domain.people import Invitation, Membership, Person, User, UserSession
from ..domain.permissions import Role
from . import audit_rows
from .db import Conn, Database
from .schema import environments, invitations, memberships, user_sessions, users

u_, m_, s_, i_ = users.c, memberships.c, user_sessions.c, invitations.c


def _user(r: Any) -> User:
    return User(id=r.id, organization_id=r.organization_id, email=r.email, name=r.name,
                password_hash=r.password_hash, disabled=bool(r.disabled),
                created_at=r.created_at)


def _session(r: Any, email: str = "") -> UserSession:
    return UserSession(id=r.id, user_id=r.user_id, secret_digest=r.secret_digest,
                       created_at=r.created_at, last_seen_at=r.last_seen_at,
                       expires_at=r.expires_at, revoked_at=r.revoked_at,
                       user_agent=r.user_agent, email=email)


def _invitation(r: Any) -> Invitation:
    return Invitation(id=r.id, organization_id=r.organization_id,
                      environment_id=r.environment_id, email=r.email, role=r.role,
                      invited_by=r.invited_by, created_at=r.created_at,
                      expires_at=r.expires_at, accepted_at=r.accepted_at)


def _role_text(ms: Iterable[Membership], env_id: int | None) -> str | None:
    return next((m.role for m in ms if m.environment_id == env_id), None)


class PeopleSql:
    db: Database

    async def _memberships(self, c: Conn, user_ids: list[int]) -> dict[int, list[Membership]]:
        out: dict[int, list[Membership]] = {i: [] for i in user_ids}
        if user_ids:
            q = select(memberships).where(m_.user_id.in_(user_ids)).order_by(m_.id)
            for r in await c.execute(q):
                out[r.user_id].append(Membership(r.user_id, r.environment_id, r.role))
        return out

    async def _check_envs(self, c: Conn, org_id: int, env_ids: Iterable[int | None]) -> None:
        for env_id in {e for e in env_ids if e is not None}:
            q = select(environments.c.id).where(environments.c.id == env_id,
                                                environments.c.organization_id == org_id)
            if (await c.execute(q)).first() is None:
                raise NotFound(f"environment {env_id} not found")

    async def _no_user(self, c: Conn, org_id: int, email: str) -> None:
        q = select(u_.id).where(u_.organization_id == org_id, u_.email == email)
        if (await c.execute(q)).first() is not None:
            raise Conflict(f"email: {email} already has an account here")

    async def _insert_user(
        self, c: Conn, org_id: int, email: str, name: str, password_hash: str, now: datetime,
        grants: list[tuple[int | None, str]],
    ) -> User:
        await self._check_envs(c, org_id, (e for e, _ in grants))
        await self._no_user(c, org_id, email)
        r = (await c.execute(users.insert().values(
            organization_id=org_id, email=email, name=name, password_hash=password_hash,
            disabled=False, created_at=now).returning(*users.c))).one()
        for env_id, role in grants:
            await c.execute(memberships.insert().values(
                user_id=r.id, environment_id=env_id, role=role, created_at=now))
        return _user(r)

    async def create_user(
        self, *, org_id: int, email: str, name: str, password_hash: str, now: datetime,
        memberships: list[tuple[int | None, str]], actor: Actor | None = None,
        record_in: int | None = None,
    ) -> User:
        async with self.db.write() as c:
            user = await self._insert_user(c, org_id, email, name, password_hash, now,
                                           memberships)
            if record_in is not None:
                changes = {f"role:{e or 'all'}": [None, role] for e, role in memberships}
                await audit_rows.record(c, record_in, actor, now, Action.CREATED, Kind.USER,
                                        user.id, email, changes)
        return user

    async def users_by_email(self, email: str) -> list[User]:
        async with self.db.read() as c:
            rows = await c.execute(select(users).where(u_.email == email).order_by(u_.id))
            return [_user(r) for r in rows]

    async def _person(self, c: Conn, org_id: int, user_id: int) -> Person:
        q = select(users).where(u_.id == user_id, u_.organization_id == org_id)
        r = (await c.execute(q)).first()
        if r is None:
            raise NotFound(f"user {user_id} not found")
        ms = await self._memberships(c, [r.id])
        return Person(_user(r), tuple(ms[r.id]))

    async def get_person(self, org_id: int, user_id: int) -> Person:
        async with self.db.read() as c:
            return await self._person(c, org_id, user_id)

    async def list_people(self, org_id: int) -> list[Person]:
        async with self.db.read() as c:
            rows = list(await c.execute(
                select(users).where(u_.organization_id == org_id).order_by(u_.email)))
            ms = await self._memberships(c, [r.id for r in rows])
        return [Person(_user(r), tuple(ms[r.id])) for r in rows]

    async def _keep_an_admin(self, c: Conn, org_id: int, user_id: int) -> None:
        """Conflict if ``user_id`` is the organisation's last organisation-wide admin."""
        q = (select(m_.user_id).join(users, u_.id == m_.user_id)
             .where(u_.organization_id == org_id, m_.environment_id.is_(None),
                    m_.role == Role.ADMIN.value, u_.disabled.is_(False)))
        admins = {r[0] for r in await c.execute(self.db.for_update(q))}
        if admins == {user_id}:
            raise Conflict("the organisation's last admin user cannot lose the admin role; "
                           "make another user an organisation-wide admin first")

    async def set_role(
        self, org_id: int, user_id: int, env_id: int | None, role: str | None, *,
        now: datetime, actor: Actor | None = None, record_in: int | None = None,
    ) -> Person:
        async with self.db.write() as c:
            person = await self._person(c, org_id, user_id)
            await self._check_envs(c, org_id, [env_id])
            before = _role_text(person.memberships, env_id)
            if before == role:
                return person
            if env_id is None and before == Role.ADMIN:
                await self._keep_an_admin(c, org_id, user_id)
            where = (m_.user_id == user_id, (m_.environment_id.is_(None) if env_id is None
                                             else m_.environment_id == env_id))
            if role is None:
                await c.execute(delete(memberships).where(*where))
            elif before is None:
                await c.execute(memberships.insert().values(
                    user_id=user_id, environment_id=env_id, role=role, created_at=now))
            else:
                await c.execute(update(memberships).where(*where).values(role=role))
            if record_in is not None:
                await audit_rows.record(c, record_in, actor, now, Action.CHANGED, Kind.USER,
                                        user_id, person.user.email,
                                        {f"role:{env_id or 'all'}": [before, role]})
            return await self._person(c, org_id, user_id)

    async def remove_user(
        self, org_id: int, user_id: int, *, now: datetime, actor: Actor | None = None,
        record_in: int | None = None,
    ) -> User:
        async with self.db.write() as c:
            person = await self._person(c, org_id, user_id)
            if any(m.environment_id is None and m.role == Role.ADMIN
                   for m in person.memberships):
                await self._keep_an_admin(c, org_id, user_id)
            await c.execute(delete(user_sessions).where(s_.user_id == user_id))
            await c.execute(delete(memberships).where(m_.user_id == user_id))
            await c.execute(delete(users).where(u_.id == user_id))
            if record_in is not None:
                await audit_rows.record(c, record_in, actor, now, Action.DELETED, Kind.USER,
                                        user_id, person.user.email)
        return person.user

    async def create_session(
        self, *, user_id: int, secret_digest: str, now: datetime, expires_at: datetime,
        user_agent: str, actor: Actor | None = None, record_in: Sequence[int] = (),
        how: str = "",
    ) -> UserSession:
        async with self.db.write() as c:
            r = (await c.execute(user_sessions.insert().values(
                user_id=user_id, secret_digest=secret_digest, created_at=now,
                last_seen_at=now, expires_at=expires_at, revoked_at=None,
                user_agent=user_agent[:200]).returning(*user_sessions.c))).one()
            for env_id in record_in:
                await audit_rows.record(c, env_id, actor, now, Action.SIGNED_IN, Kind.SESSION,
                                        r.id, actor.key_name if actor else "",
                                        {"with": [None, how]} if how else None)
        return _session(r)

    async def record_sign_in_refused(
        self, *, user_id: int, email: str, now: datetime, reason: str, client: str,
        record_in: Sequence[int],
    ) -> None:
        if not record_in:
            return
        actor = Actor(key_id=None, key_name=client or "unknown", via=Via.DASHBOARD.value)
        async with self.db.write() as c:
            for env_id in record_in:
                await audit_rows.record(c, env_id, actor, now, Action.SIGN_IN_REFUSED,
                                        Kind.USER, user_id, email,
                                        {"reason": [None, reason]})

    async def resume_session(
        self, session_id: int, now: datetime, seen_every_ms: int,
    ) -> tuple[UserSession, Person] | None:
        q = (select(user_sessions, users.c.organization_id, users.c.email, users.c.name,
                    users.c.password_hash, users.c.disabled,
                    users.c.created_at.label("user_created_at"))
             .join(users, u_.id == s_.user_id).where(s_.id == session_id))
        async with self.db.read() as c:
            r = (await c.execute(q)).first()
            if r is None or r.disabled or r.revoked_at is not None or r.expires_at <= now:
                return None
            ms = await self._memberships(c, [r.user_id])
        user = User(id=r.user_id, organization_id=r.organization_id, email=r.email,
                    name=r.name, password_hash=r.password_hash, disabled=False,
                    created_at=r.user_created_at)
        session = _session(r, r.email)
        if now - session.last_seen_at >= timedelta(milliseconds=seen_every_ms):
            async with self.db.write() as c:
                await c.execute(update(user_sessions).where(s_.id == session_id)
                                .values(last_seen_at=now))
        return session, Person(user, tuple(ms[r.user_id]))

    async def list_sessions(
        self, org_id: int, user_id: int | None, now: datetime,
    ) -> list[UserSession]:
        q = (select(user_sessions, u_.email).join(users, u_.id == s_.user_id)
             .where(u_.organization_id == org_id, s_.revoked_at.is_(None),
                    s_.expires_at > now))
        if user_id is not None:
            q = q.where(s_.user_id == user_id)
        async with self.db.read() as c:
            rows = await c.execute(q.order_by(s_.id.desc()))
            return [_session(r, r.email) for r in rows]

    async def revoke_session(
        self, org_id: int, session_id: int, user_id: int | None, *, now: datetime,
        actor: Actor | None = None, record_in: int | None = None,
        action: Action = Action.REVOKED,
    ) -> UserSession:
        q = (select(user_sessions, u_.email).join(users, u_.id == s_.user_id)
             .where(s_.id == session_id, u_.organization_id == org_id,
                    s_.revoked_at.is_(None), s_.expires_at > now))
        if user_id is not None:
            q = q.where(s_.user_id == user_id)
        async with self.db.write() as c:
            r = (await c.execute(q)).first()
            if r is None:
                raise NotFound(f"session {session_id} not found")
            await c.execute(update(user_sessions).where(s_.id == session_id)
                            .values(revoked_at=now))
            if record_in is not None:
                await audit_rows.record(c, record_in, actor, now, action, Kind.SESSION,
                                        session_id, r.email)
        return replace(_session(r, r.email), revoked_at=now)

    async def create_invitation(
        self, *, org_id: int, env_id: int | None, email: str, role: str, token_digest: str,
        invited_by: str, now: datetime, expires_at: datetime, actor: Actor | None = None,
        record_in: int | None = None,
    ) -> Invitation:
        async with self.db.write() as c:
            await self._check_envs(c, org_id, [env_id])
            await self._no_user(c, org_id, email)
            r = (await c.execute(invitations.insert().values(
                organization_id=org_id, environment_id=env_id, email=email, role=role,
                token_digest=token_digest, invited_by=invited_by[:200], created_at=now,
                expires_at=expires_at, accepted_at=None).returning(*invitations.c))).one()
            if record_in is not None:
                await audit_rows.record(c, record_in, actor, now, Action.CREATED,
                                        Kind.INVITATION, r.id, email,
                                        {f"role:{env_id or 'all'}": [None, role]})
        return _invitation(r)

    async def prune_people(self, now: datetime) -> int:
        async with self.db.write() as c:
            ended = await c.execute(delete(user_sessions).where(
                (s_.expires_at <= now) | (s_.revoked_at <= now)))
            old = await c.execute(delete(invitations).where(i_.expires_at <= now))
        return int(ended.rowcount or 0) + int(old.rowcount or 0)

    async def find_invitation(self, token_digest: str) -> Invitation | None:
        async with self.db.read() as c:
            r = (await c.execute(
                select(invitations).where(i_.token_digest == token_digest))).first()
        return None if r is None else _invitation(r)

    async def accept_invitation(
        self, *, token_digest: str, name: str, password_hash: str, now: datetime,
    ) -> User:
        async with self.db.write() as c:
            r = (await c.execute(update(invitations).where(
                i_.token_digest == token_digest, i_.accepted_at.is_(None),
                i_.expires_at > now).values(accepted_at=now)
                .returning(*invitations.c))).first()
            if r is None:
                raise NotFound("invitation: this link is unknown, used or expired")
            user = await self._insert_user(c, r.organization_id, r.email, name,
                                           password_hash, now, [(r.environment_id, r.role)])
            if r.environment_id is not None:
                actor = Actor(key_id=None, key_name=r.email, via="dashboard", user_id=user.id)
                await audit_rows.record(c, r.environment_id, actor, now, Action.CREATED,
                                        Kind.USER, user.id, r.email,
                                        {f"role:{r.environment_id}": [None, r.role]})
        return user
