"""People (issue 22): users with a password, their roles per environment, dashboard sessions
that can be revoked, and invitations by email.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile),
in a worker thread so a sign-in does not hold the event loop; argon2-cffi is imported at the
first password hashed or checked (issue 18: a server that nobody signs in to never loads it,
nor hashes the dummy password at start). Session secrets and invitation
tokens are random 256-bit values: only their keyed SHA-256 is stored (as API keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..domain import people as rules
from ..domain.audit import Action as AuditAction
from ..domain.audit import Actor, Via
from ..domain.errors import Forbidden, InvalidInput, NotFound
from ..domain.people import Invitation, Person, User, UserSession
from ..domain.permissions import Action, Role, allows, refusal
from ..domain.records import Environment
from . import keys, validation
from .context import Principal, Services

if TYPE_CHECKING:
    from argon2 import PasswordHasher
# each hash takes 64 MiB and ~0.1-0.3 s of a core: at most two at once per process, so a burst
# of sign-ins queues instead of exhausting memory (failed ones are also limited per address)
_SLOTS = threading.BoundedSemaphore(2)


@functools.cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the address is unknown, so both answers take the same time (made by the
    first sign-in, whichever its answer, in a worker thread)."""
    with _SLOTS:
        return _hasher().hash("schedo-no-such-user")

# (to, subject, text) -> None when sent, else why not; set by the app when SMTP is configured
Mailer = Callable[[str, str, str], Awaitable[str | None]]


async def hash_password(password: str) -> str:
    problem = rules.password_problem(password)
    if problem is not None:
        raise InvalidInput(problem)
    def run() -> str:
        with _SLOTS:
            return _hasher().hash(password)

    return await asyncio.to_thread(run)


async def _verify(password_hash: str, password: str) -> bool:
    def check() -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            with _SLOTS:
                return _hasher().verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def _email(address: str) -> str:
    email = rules.normal_email(address)
    problem = rules.email_problem(email)
    if problem is not None:
        raise InvalidInput(problem)
    return validation.email(email)


def _role(role: str) -> str:
    problem = rules.role_problem(role)
    if problem is not None:
        raise InvalidInput(problem)
    return role


def _name(name: str, email: str) -> str:
    name = name.strip()
    return validation.plain_name(name) if name else email.split("@")[0][: rules.NAME_MAX]


def _need(p: Principal, action: Action) -> None:
    if not allows(p.grant, action):
        raise Forbidden(refusal(p.grant, action))


def _scope_env(p: Principal, env_id: int | None) -> None:
    """An environment's admin manages roles there only; organisation-wide roles and other
    environments need an organisation-wide admin (an admin key, or a user admin of all)."""
    _need(p, Action.ADMIN)
    if not p.admin and env_id != p.env_id:
        if env_id is None:
            raise Forbidden("permission denied: organisation-wide roles need an "
                            "organisation-wide admin")
        raise NotFound(f"environment {env_id} not found")


# -- users -------------------------------------------------------------------------------------


async def add_user(
    svc: Services, org_id: int, email: str, password: str, role: str,
    env_id: int | None = None, name: str = "", p: Principal | None = None,
) -> User:
    """A user with ``role`` in ``env_id`` (None: every environment). Without a principal
    (``schedo user add``, the first user) only the input is checked and nothing is
    recorded in the audit log (the operator of the server did it)."""
    address = _email(email)
    if p is not None:
        _scope_env(p, env_id)
    digest = await hash_password(password)
    record_in = p.env_id if p is not None else None
    return await svc.store.create_user(
        org_id=org_id, email=address, name=_name(name, address), password_hash=digest,
        now=svc.clock.now(), memberships=[(env_id, _role(role))],
        actor=p.actor if p is not None else None, record_in=record_in,
    )


async def people(svc: Services, p: Principal) -> list[Person]:
    """The organisation's users (an environment's admin sees them too: to know who has
    which role there)."""
    _need(p, Action.ADMIN)
    return await svc.store.list_people(p.org_id)


async def set_role(
    svc: Services, p: Principal, user_id: int, env_id: int | None, role: str | None,
) -> Person:
    """Give ``role`` in ``env_id`` (None: organisation-wide), or remove it (role None)."""
    _scope_env(p, env_id)
    return await svc.store.set_role(
        p.org_id, user_id, env_id, None if role is None else _role(role),
        now=svc.clock.now(), actor=p.actor, record_in=p.env_id,
    )


async def remove_user(svc: Services, p: Principal, user_id: int) -> User:
    """Delete a user of the organisation (an organisation-wide admin only)."""
    _scope_env(p, None)
    user = await svc.store.remove_user(p.org_id, user_id, now=svc.clock.now(), actor=p.actor,
                                       record_in=p.env_id)
    return user


# -- sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    session: UserSession
    secret: str  # goes into the signed cookie; only its digest is stored


async def sign_in(
    svc: Services, email: str, password: str, user_agent: str, client: str = ""
) -> SignedIn | None:
    """A new session for the user with this address and password, or None (unknown
    address, wrong password, disabled, or no role anywhere: one answer for all). A refusal
    for a known address is in the audit log of the environments its user has a role in
    ("sign_in_refused", with the reason and ``client``, the client's address)."""
    address = rules.normal_email(email)
    if rules.email_problem(address) or rules.password_problem(password):
        return None
    dummy = await asyncio.to_thread(_dummy_hash)  # made once, before the answer is known
    found = await svc.store.users_by_email(address)
    if not found:
        await _verify(dummy, password)
        return None
    refused: list[tuple[User, str]] = []
    for user in found:
        if not await _verify(user.password_hash, password):
            refused.append((user, "wrong password"))
        elif user.disabled:
            refused.append((user, "disabled"))
        else:
            person = await svc.store.get_person(user.organization_id, user.id)
            if not person.memberships:
                return None
            return await new_session(svc, person, user_agent, "password")
    for user, reason in refused:
        person = await svc.store.get_person(user.organization_id, user.id)
        await svc.store.record_sign_in_refused(
            user_id=user.id, email=user.email, now=svc.clock.now(), reason=reason,
            client=client, record_in=await _environments_of(svc, person))
    return None


async def new_session(svc: Services, person: Person, user_agent: str, how: str) -> SignedIn:
    """A session for a user allowed in; recorded as "signed_in" (``how``: password or the
    OIDC provider's name) in the audit log of every environment the user has a role in."""
    user = person.user
    secret = keys.new_secret()
    now = svc.clock.now()
    envs = await _environments_of(svc, person)
    session = await svc.store.create_session(
        user_id=user.id, secret_digest=keys.digest(svc.pepper, secret), now=now,
        expires_at=now + rules.SESSION_TTL, user_agent=user_agent,
        actor=Actor(key_id=None, key_name=user.email, via=Via.DASHBOARD.value,
                    user_id=user.id),
        record_in=envs, how=how,
    )
    return SignedIn(session, secret)


async def _environments_of(svc: Services, person: Person) -> list[int]:
    """The ids of the environments where ``person`` has a role."""
    return [e.id for e in await svc.store.list_environments(person.user.organization_id)
            if rules.role_in(person.memberships, e.id) is not None]


async def sign_out(svc: Services, p: Principal, session_id: int) -> None:
    """End the caller's own session (Sign out): its cookie no longer signs anyone in, even
    if it was copied. Recorded as "signed_out". A session already ended is no error."""
    if p.user_id is None:
        return
    with contextlib.suppress(NotFound):
        await svc.store.revoke_session(p.org_id, session_id, p.user_id, now=svc.clock.now(),
                                       actor=p.actor, record_in=p.env_id,
                                       action=AuditAction.SIGNED_OUT)


@dataclass(frozen=True)
class Resumed:
    principal: Principal
    person: Person
    session: UserSession
    environments: list[Environment]


async def resume(
    svc: Services, session_id: int, secret: str, env_id: int | None,
) -> Resumed | None:
    """The principal of a user's session (never cached), acting in ``env_id`` when the
    user has a role there, else in the first environment where they have one; None when
    the session is revoked, expired, forged, or the user has no role left."""
    now = svc.clock.now()
    found = await svc.store.resume_session(
        session_id, now, int(rules.SEEN_EVERY.total_seconds() * 1000))
    if found is None:
        return None
    session, person = found
    if not hmac.compare_digest(session.secret_digest, keys.digest(svc.pepper, secret)):
        return None
    user = person.user
    every = await svc.store.list_environments(user.organization_id)
    envs = [e for e in every if rules.role_in(person.memberships, e.id) is not None]
    if not envs:
        return None
    env = next((e for e in envs if e.id == env_id), envs[0])
    role = rules.role_in(person.memberships, env.id)
    assert role is not None
    admin = rules.org_admin(person.memberships)
    principal = Principal(
        key_id=0, org_id=user.organization_id, env_id=env.id, admin=admin,
        key_env_id=None if admin else env.id, key_name=user.email, via=Via.DASHBOARD.value,
        grant=role.value, user_id=user.id,
    )
    return Resumed(principal, person, session, envs)


async def sessions(svc: Services, p: Principal, everyone: bool) -> list[UserSession]:
    """The caller's live sessions; with ``everyone`` (an organisation-wide admin) all of
    the organisation's."""
    if everyone:
        _scope_env(p, None)
        return await svc.store.list_sessions(p.org_id, None, svc.clock.now())
    if p.user_id is None:
        return []
    return await svc.store.list_sessions(p.org_id, p.user_id, svc.clock.now())


async def revoke_session(svc: Services, p: Principal, session_id: int) -> UserSession:
    """End a session: one's own, or (an organisation-wide admin) anyone's. Its next
    request is signed out."""
    own = not (p.admin and allows(p.grant, Action.ADMIN))
    if own and p.user_id is None:
        raise NotFound(f"session {session_id} not found")
    return await svc.store.revoke_session(
        p.org_id, session_id, p.user_id if own else None, now=svc.clock.now(),
        actor=p.actor, record_in=p.env_id,
    )


# -- invitations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invited:
    invitation: Invitation
    link: str
    mailed: bool
    problem: str | None  # why the mail was not sent (no SMTP, refused): show the link


def _token_digest(svc: Services, token: str) -> str:
    return keys.digest(svc.pepper, "invitation." + token)


def invitation_text(link: str, org_env: str, role: str, expires: datetime) -> str:
    return (f"You are invited to Schedo ({org_env}) with the role {role}.\n\n"
            f"Set your password here to join:\n{link}\n\n"
            f"The link works once, until {expires:%Y-%m-%d %H:%M} UTC. If you did not expect "
            "this invitation, ignore this mail.\n")


async def invite(
    svc: Services, p: Principal, email: str, role: str, env_id: int | None,
    mailer: Mailer | None,
) -> Invited:
    """Invite ``email`` with ``role`` in ``env_id`` (None: organisation-wide): the
    invitation is stored (its token's digest only) and mailed through SMTP. Without SMTP
    (or when the mail is refused) the link is returned for the admin to pass on."""
    _scope_env(p, env_id)
    address, role = _email(email), _role(role)
    token = secrets.token_urlsafe(32)
    now = svc.clock.now()
    expires = now + rules.INVITATION_TTL
    inv = await svc.store.create_invitation(
        org_id=p.org_id, env_id=env_id, email=address, role=role,
        token_digest=_token_digest(svc, token), invited_by=p.key_name, now=now,
        expires_at=expires, actor=p.actor, record_in=p.env_id,
    )
    link = svc.settings.public_url.rstrip("/") + "/ui/invitation/" + token
    where = "every environment" if env_id is None else f"environment {env_id}"
    problem: str | None = "no SMTP server is configured (SCHEDO_SMTP_URL)"
    if mailer is not None:
        problem = await mailer(address, "Your invitation to Schedo",
                               invitation_text(link, where, role, expires))
    return Invited(inv, link, problem is None, problem)


async def invitation(svc: Services, token: str) -> Invitation:
    """The open invitation of a link; NotFound when unknown, used or expired."""
    if not 16 <= len(token) <= 100 or not token.isascii() or not token.isprintable():
        raise NotFound("invitation: this link is unknown, used or expired")
    found = await svc.store.find_invitation(_token_digest(svc, token))
    if found is None or not found.open(svc.clock.now()):
        raise NotFound("invitation: this link is unknown, used or expired")
    return found


async def accept(
    svc: Services, token: str, name: str, password: str, user_agent: str,
) -> SignedIn:
    """The invitee sets a password: a user with the invitation's role, signed in."""
    inv = await invitation(svc, token)
    digest = await hash_password(password)
    user = await svc.store.accept_invitation(
        token_digest=_token_digest(svc, token), name=_name(name, inv.email),
        password_hash=digest, now=svc.clock.now(),
    )
    person = await svc.store.get_person(user.organization_id, user.id)
    return await new_session(svc, person, user_agent, "invitation")


__all__ = ["Mailer", "Role"]
