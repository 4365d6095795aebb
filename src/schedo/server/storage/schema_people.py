"""People of the declared schema (issue 22): users, their roles per environment, their
dashboard sessions and invitations (split from schema.py for size, on the same metadata;
``schema`` re-exports these tables)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from .schema_types import EpochMs, metadata

# A person who signs in to the dashboard with an email and a password (argon2id hash).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("email", String(254), nullable=False),  # stored lower-cased
    Column("name", String(200), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", EpochMs, nullable=False),
    UniqueConstraint("organization_id", "email", name="uq_users_org_email"),
    sqlite_autoincrement=True,
)

# A user's role in one environment; environment_id NULL: in every environment of the
# organisation, with the organisation-wide admin rights for role admin.
memberships = Table(
    "memberships",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column(
        "environment_id",
        Integer,
        ForeignKey("environments.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    Column("role", String(16), nullable=False),
    Column("created_at", EpochMs, nullable=False),
    UniqueConstraint("user_id", "environment_id", name="uq_memberships_user_env"),
    sqlite_autoincrement=True,
)

# A user's dashboard session: the cookie carries its id and a random secret whose SHA-256
# is stored here; every request reads the row (revoked or expired: signed out at once).
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("secret_digest", String(64), nullable=False),
    Column("created_at", EpochMs, nullable=False),
    Column("last_seen_at", EpochMs, nullable=False),
    Column("expires_at", EpochMs, nullable=False),
    Column("revoked_at", EpochMs, nullable=True),
    Column("user_agent", String(200), nullable=False),
    sqlite_autoincrement=True,
)

# An invitation by email: a one-time link whose token's SHA-256 is stored; 7 days.
invitations = Table(
    "invitations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column(
        "environment_id",
        Integer,
        ForeignKey("environments.id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("email", String(254), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("invited_by", String(200), nullable=False),
    Column("created_at", EpochMs, nullable=False),
    Column("expires_at", EpochMs, nullable=False),
    Column("accepted_at", EpochMs, nullable=True),
    sqlite_autoincrement=True,
)
