"""Migration 0011 (webhook signature key rotation) on a SQLite database with data, made at
0009: the environments and their keys are kept (their ids and the rows that point at them
too), the new columns are empty, and the store rotates a key on the migrated database."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from schedo.server.storage.db import Database
from schedo.server.storage.migrate import alembic_config, migrate
from schedo.server.storage.sealing import Sealer
from schedo.server.storage.sql import SqlStore

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _database_at_0009(path: Path) -> None:
    eng = create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        command.upgrade(alembic_config(conn), "0009")
    eng.dispose()
    c = sqlite3.connect(path)
    c.executescript("""
        INSERT INTO organizations (id, name, created_at) VALUES (1, 'org', 0);
        INSERT INTO environments (id, organization_id, name, webhook_signature_key, created_at)
            VALUES (1, 1, 'production', 'plain-key-one', 0), (3, 1, 'staging', 'k3', 0);
        INSERT INTO api_keys (organization_id, environment_id, name, prefix, digest, admin,
            internal, revoked, created_at) VALUES (1, 3, 'k', 'sk_abcdefghijklm', 'd', 0, 0, 0,
            0);
    """)
    c.execute("INSERT INTO environments (id, organization_id, name, webhook_signature_key, "
              "created_at) VALUES (5, 1, 'gone', 'k5', 0)")
    c.execute("DELETE FROM environments WHERE id = 5")  # its id is never given again
    c.commit()
    c.close()


async def test_0011_keeps_the_environments_and_rotation_works(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _database_at_0009(path)
    db = Database(f"sqlite:///{path}")
    try:
        await migrate(db)
        c = sqlite3.connect(path)
        c.execute("PRAGMA foreign_keys = ON")
        assert c.execute(
            "SELECT id, name, webhook_signature_key, previous_signature_key, "
            "previous_signature_expires_at FROM environments ORDER BY id").fetchall() == [
            (1, "production", "plain-key-one", None, None), (3, "staging", "k3", None, None)]
        assert c.execute("SELECT environment_id FROM api_keys").fetchall() == [(3,)]
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []
        ddl = c.execute("SELECT sql FROM sqlite_master WHERE name = 'environments'").fetchone()
        assert "AUTOINCREMENT" in ddl[0]
        c.execute("INSERT INTO environments (organization_id, name, webhook_signature_key, "
                  "created_at) VALUES (1, 'new', 'k', 0)")
        assert c.execute("SELECT max(id) FROM environments").fetchone() == (6,)
        c.commit()
        c.close()
        store = SqlStore(db, Sealer.random())
        got = await store.rotate_signature_key(1, 3, "k3-new", T0, T0 + timedelta(hours=1))
        assert got.previous_valid_until == T0 + timedelta(hours=1)
        assert await store.previous_signature_keys([1, 3], T0) == {3: "k3"}
    finally:
        await db.dispose()
