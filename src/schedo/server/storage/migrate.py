"""Apply Alembic migrations at start-up (``schedo serve`` does this before serving).

Two processes starting together must not both migrate: on PostgreSQL the upgrade runs under a
transaction-scoped advisory lock; on SQLite the write transaction (BEGIN IMMEDIATE) is the
lock.

SQLite migrations run with foreign keys off, as SQLite's own procedure for rebuilding a table
requires (a DROP TABLE would otherwise cascade into the child tables); ``PRAGMA
foreign_key_check`` must come back empty before the transaction commits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import MANUAL_BEGIN, Database

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
    engine = db.write_engine
    if not isinstance(engine, AsyncEngine):
        _migrate_sqlite(engine)  # inline, as every SQLite statement (db.py); start-up only
        return
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})")
        await conn.run_sync(_upgrade)


def _migrate_sqlite(engine: Engine) -> None:
    # the PRAGMA is a no-op inside a transaction: set it first, then BEGIN ourselves
    with engine.connect() as conn:
        conn = conn.execution_options(**{MANUAL_BEGIN: True})
        conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                _upgrade(conn)
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
                conn.exec_driver_sql("COMMIT")
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys = ON")
            conn.commit()  # ends SQLAlchemy's own (empty) transaction
