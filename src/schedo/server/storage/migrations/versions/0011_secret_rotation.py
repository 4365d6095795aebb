"""webhook signature key rotation with an overlap (issue 22): the previous key and its end

``environments.previous_signature_key``: the key before the last rotation, sealed like the
current one (its own context, ``sealing.previous_context``), still signing beside the new one
until ``previous_signature_expires_at`` (epoch ms). Both NULL when no rotation ever happened.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN on both databases: the table is not rebuilt (its ids and foreign keys
    # stay as they are)
    op.add_column("environments",
                  sa.Column("previous_signature_key", sa.String(128), nullable=True))
    op.add_column("environments",
                  sa.Column("previous_signature_expires_at", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.drop_column("previous_signature_expires_at")
        batch.drop_column("previous_signature_key")
