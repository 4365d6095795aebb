"""people, roles and scoped keys (issue 22): ``api_keys.scope``, users, memberships,
user sessions, invitations, and ``audit_events.actor_user_id`` (a user as the actor)

Every existing key keeps today's rights (scope ``full``). Plain ALTER TABLE ADD COLUMN: no
table rebuild, so SQLite's AUTOINCREMENT (migration 0003) and every row stay as they are.
Ids never reused (AUTOINCREMENT on SQLite) on the new tables too.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _org() -> sa.Column[int]:
    return sa.Column("organization_id", sa.Integer,
                     sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False)


def _user() -> sa.Column[int]:
    return sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                     nullable=False)


def _env() -> sa.Column[int]:
    return sa.Column("environment_id", sa.Integer,
                     sa.ForeignKey("environments.id", ondelete="CASCADE"), nullable=True)


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("scope", sa.String(16), nullable=False,
                                        server_default="full"))
    op.add_column("audit_events", sa.Column("actor_user_id", sa.Integer, nullable=True))
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        _org(),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("organization_id", "email", name="uq_users_org_email"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        _env(),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("user_id", "environment_id", name="uq_memberships_user_env"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_index("ix_memberships_environment_id", "memberships", ["environment_id"])
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column("secret_digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.Column("user_agent", sa.String(200), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer, primary_key=True),
        _org(),
        _env(),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("invited_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("accepted_at", sa.BigInteger, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_invitations_organization_id", "invitations", ["organization_id"])


def downgrade() -> None:
    for table in ("invitations", "user_sessions", "memberships", "users"):
        op.drop_table(table)
    op.drop_column("api_keys", "scope")
    op.drop_column("audit_events", "actor_user_id")
