"""Apply Alembic migrations at start-up (``schedo serve`` does this before serving).

Two processes starting together must not both migrate: on PostgreSQL the upgrade runs under a
transaction-scoped advisory lock; on SQLite the write transaction (BEGIN IMMEDIATE) is the
lock.

SQLite migrations run with foreign keys off, as SQLite's own procedure for rebuilding a table
requires (a DROP TABLE would otherwise cascade into the child tables); ``PRAGMA
foreign_key_check`` must come back empty before the transaction commits.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from .db import MANUAL_BEGIN, Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
ADVISORY_LOCK_ID = 0x5C4ED0  # arbitrary, constant: "schedo migrations"
_REVISION = re.compile(r'^(down_revision|revision) = (?:"([^"]*)"|None)$', re.M)
VERSION_QUERY = "SELECT version_num FROM alembic_version"


def head_revision() -> str:
    """The newest migration's revision, read from the files of ``migrations/versions``
    without importing Alembic (~11 MB, only needed when there is something to migrate): the
    one revision no other names as its ``down_revision``. The tests check it against
    Alembic's own answer."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((m.group(1), m.group(2)) for m in _REVISION.finditer(path.read_text()))
        if found.get("revision"):
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"migrations: expected one head revision, found {sorted(heads)}")
    return heads.pop()


def alembic_config(connection: Any | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(sync_conn: Any) -> None:
    from alembic import command

    command.upgrade(alembic_config(sync_conn), "head")


async def _current(db: Database) -> str | None:
    """The database's revision; None for a new database (or any trouble reading it: the
    migration then runs and says what is wrong)."""
    try:
        async with db.read() as c:
            return (await c.exec_driver_sql(VERSION_QUERY)).scalar_one_or_none()  # type: ignore[no-any-return]
    except Exception:
        return None


async def migrate(db: Database) -> None:
    if await _current(db) == head_revision():
        return  # up to date: the usual start, without loading Alembic
    engine = db.write_engine
    if isinstance(engine, Engine):
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
