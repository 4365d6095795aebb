"""Apply Alembic migrations at start-up (``schedo serve`` does this before serving).

Two processes starting together must not both migrate: on PostgreSQL the upgrade runs under a
transaction-scoped advisory lock; on SQLite the write transaction (BEGIN IMMEDIATE) is the
lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from .db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
ADVISORY_LOCK_ID = 0x5C4ED0  # arbitrary, constant: "schedo migrations"


def alembic_config(connection: Any | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(sync_conn: Any) -> None:
    command.upgrade(alembic_config(sync_conn), "head")


async def migrate(db: Database) -> None:
    async with db.write_engine.begin() as conn:
        if not db.is_sqlite:
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})")
        await conn.run_sync(_upgrade)
