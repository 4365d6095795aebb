"""Applying every migration to an empty database gives exactly the declared schema."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from schedo.server.storage.db import Database
from schedo.server.storage.migrate import migrate
from schedo.server.storage.schema import metadata


def _diff(sync_conn: Any) -> list[Any]:
    ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, metadata))


@pytest.mark.empty_database
async def test_migrations_give_the_declared_schema(db_url: str) -> None:
    db = Database(db_url)
    try:
        await migrate(db)
        await migrate(db)  # a second run is a no-op
        async with db.read() as conn:
            diff = await conn.run_sync(_diff)
        assert diff == []
    finally:
        await db.dispose()
