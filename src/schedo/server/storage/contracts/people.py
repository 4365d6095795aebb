"""People (issue 22): users, memberships, dashboard sessions and invitations.

Part of the storage contract; the rules that hold for every method are in
``storage/contracts/__init__.py``. Every call is scoped to an organisation: a user, session
or invitation of another organisation answers exactly like a missing one (``NotFound``).
Changes made with an ``actor`` are recorded in the audit log of ``record_in`` (the
environment the caller acts in), in the transaction of the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from ...domain.audit import Action, Actor
from ...domain.people import Invitation, Person, User, UserSession


class PeopleStore(Protocol):
    async def create_user(
        self, *, org_id: int, email: str, name: str, password_hash: str, now: datetime,
        memberships: list[tuple[int | None, str]], actor: Actor | None = None,
        record_in: int | None = None,
    ) -> User:
        """A new user with its memberships ((environment id or None, role) pairs, each
        environment of ``org_id``, else NotFound). Collision if the organisation already has
        a user with that (lower-cased) email address."""

    async def users_by_email(self, email: str) -> list[User]:
        """The users with this address, in every organisation (sign-in), oldest first."""

    async def get_person(self, org_id: int, user_id: int) -> Person:
        """The user with its memberships; NotFound if absent or of another organisation."""

    async def list_people(self, org_id: int) -> list[Person]:
        """The organisation's users with their memberships, by email address."""

    async def set_role(
        self, org_id: int, user_id: int, env_id: int | None, role: str | None, *,
        now: datetime, actor: Actor | None = None, record_in: int | None = None,
    ) -> Person:
        """Give the user ``role`` in ``env_id`` (None: organisation-wide), or remove that
        membership when ``role`` is None. Conflict when it would leave the organisation
        without an organisation-wide admin user while it has users (the last admin cannot
        demote or remove themself). Records a "changed" event with the role's before and
        after; nothing when nothing changes."""

    async def remove_user(
        self, org_id: int, user_id: int, *, now: datetime, actor: Actor | None = None,
        record_in: int | None = None,
    ) -> User:
        """Delete the user, its memberships and sessions (signed out at once). Conflict for
        the organisation's last organisation-wide admin user."""

    async def create_session(
        self, *, user_id: int, secret_digest: str, now: datetime, expires_at: datetime,
        user_agent: str, actor: Actor | None = None, record_in: Sequence[int] = (),
        how: str = "",
    ) -> UserSession:
        """A new dashboard session of the user, recorded as "signed_in" by ``actor`` (with
        ``how`` as the change of field ``with``) in each environment of ``record_in``, in the
        same transaction."""

    async def record_sign_in_refused(
        self, *, user_id: int, email: str, now: datetime, reason: str, client: str,
        record_in: Sequence[int],
    ) -> None:
        """A refused dashboard sign-in for the user (``reason``: "wrong password" or
        "disabled"; ``client``: the client's address as the server saw it), recorded as
        "sign_in_refused" (kind user, the user's address as the name, via dashboard, no key
        and no user as the actor: the caller was not proven to be anyone) in each environment
        of ``record_in``."""

    async def resume_session(
        self, session_id: int, now: datetime, seen_every_ms: int,
    ) -> tuple[UserSession, Person] | None:
        """The session with its user and memberships when it is live (not revoked, not
        expired, its user not disabled), else None; writes ``last_seen_at`` when it is
        older than ``seen_every_ms``. Never cached: revoking ends it on the next request."""

    async def list_sessions(
        self, org_id: int, user_id: int | None, now: datetime,
    ) -> list[UserSession]:
        """The live sessions of the user (None: of every user of the organisation), newest
        first."""

    async def revoke_session(
        self, org_id: int, session_id: int, user_id: int | None, *, now: datetime,
        actor: Actor | None = None, record_in: int | None = None,
        action: Action = Action.REVOKED,
    ) -> UserSession:
        """Revoke a live session of the organisation (of ``user_id`` only, when given),
        recorded as ``action`` (revoked, or signed_out for one's own Sign out) in
        ``record_in``; NotFound for one already ended, missing or foreign."""

    async def create_invitation(
        self, *, org_id: int, env_id: int | None, email: str, role: str, token_digest: str,
        invited_by: str, now: datetime, expires_at: datetime, actor: Actor | None = None,
        record_in: int | None = None,
    ) -> Invitation:
        """An invitation (the token's digest only). NotFound for a foreign environment;
        Collision when the organisation already has a user with that address."""

    async def prune_people(self, now: datetime) -> int:
        """Delete the dashboard sessions that ended (revoked or expired) and the invitations
        past their expiry (used or not) before ``now``; how many rows went."""

    async def find_invitation(self, token_digest: str) -> Invitation | None:
        """The invitation with this token digest (open or not), or None."""

    async def accept_invitation(
        self, *, token_digest: str, name: str, password_hash: str, now: datetime,
    ) -> User:
        """Make the invitee a user with the invitation's role, and close the invitation,
        in one transaction: NotFound when it is unknown, used or expired (a second use of
        the link finds nothing); Collision when the address became a user meanwhile."""

