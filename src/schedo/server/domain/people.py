"""People (issue 22): users, their roles per environment, dashboard sessions, invitations.

Pure: the records and the rules (what an address and a password must be, which role a user
holds in an environment, how long sessions and invitations live).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .permissions import Role

SESSION_TTL = timedelta(hours=12)  # as the key sessions (web/session.py)
SEEN_EVERY = timedelta(seconds=60)  # last_seen is written at most once a minute
INVITATION_TTL = timedelta(days=7)
PASSWORD_MIN = 10
PASSWORD_MAX = 1000  # argon2 takes any length; this bounds the work of one attempt
EMAIL_MAX = 254
NAME_MAX = 200


@dataclass(frozen=True, slots=True)
class User:
    id: int
    organization_id: int
    email: str
    name: str
    password_hash: str
    disabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Membership:
    user_id: int
    environment_id: int | None  # None: every environment of the organisation
    role: str


@dataclass(frozen=True, slots=True)
class Person:
    """A user with their memberships (the People page)."""

    user: User
    memberships: tuple[Membership, ...]


@dataclass(frozen=True, slots=True)
class UserSession:
    id: int
    user_id: int
    secret_digest: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    user_agent: str
    email: str = ""  # the user's, for listings

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class Invitation:
    id: int
    organization_id: int
    environment_id: int | None
    email: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None

    def open(self, now: datetime) -> bool:
        return self.accepted_at is None and now < self.expires_at


def role_in(memberships: tuple[Membership, ...] | list[Membership], env_id: int) -> Role | None:
    """The user's role in ``env_id``: the higher of an organisation-wide membership and
    that environment's own one; None when neither exists."""
    order = list(Role)
    found = [Role(m.role) for m in memberships
             if m.environment_id is None or m.environment_id == env_id]
    return max(found, key=order.index) if found else None


def org_admin(memberships: tuple[Membership, ...] | list[Membership]) -> bool:
    """An organisation-wide admin: the rights of an admin (organisation) key."""
    return any(m.environment_id is None and m.role == Role.ADMIN for m in memberships)


def email_problem(email: str) -> str | None:
    """Why ``email`` cannot be a user's address (the organisation's checks are stricter:
    services/validation.email is applied too)."""
    if not email or len(email) > EMAIL_MAX:
        return f"email: must be 1 to {EMAIL_MAX} characters"
    if "@" not in email.strip("@") or any(c.isspace() or ord(c) < 32 for c in email):
        return "email: must be an address such as ada@example.com"
    return None


def normal_email(email: str) -> str:
    return email.strip().lower()


def password_problem(password: str) -> str | None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"password: must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"
    if "\x00" in password:
        return "password: must not contain a NUL character"
    return None


def role_problem(role: str) -> str | None:
    if role in Role.__members__.values():
        return None
    return "role: must be one of " + ", ".join(r.value for r in Role)
