"""Migration 0010 (people, roles, scoped keys) on a SQLite database with data, made at 0009:
every key keeps its rights (scope ``full``) and its row, the new tables start empty and keep
ids unique for ever (AUTOINCREMENT), and downgrading gives 0009's key table back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine

from schedo.server.storage.db import Database
from schedo.server.storage.migrate import alembic_config, migrate


def _database_at_0009(path: Path) -> None:
    eng = create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        command.upgrade(alembic_config(conn), "0009")
    eng.dispose()
    c = sqlite3.connect(path)
    c.executescript("""
        INSERT INTO organizations (id, name, created_at) VALUES (1, 'org', 0);
        INSERT INTO environments (id, organization_id, name, webhook_signature_key, created_at)
            VALUES (1, 1, 'production', 'k', 0);
        INSERT INTO api_keys (id, organization_id, environment_id, name, prefix, digest, admin,
            internal, revoked, created_at) VALUES
            (1, 1, NULL, 'admin', 'sk_admin', 'd1', 1, 0, 0, 0),
            (2, 1, 1, 'ci', 'sk_ci', 'd2', 0, 0, 1, 5);
    """)
    c.commit()
    c.close()


async def test_0010_keeps_every_key_full_and_adds_the_people_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _database_at_0009(path)
    db = Database(f"sqlite:///{path}")
    try:
        await migrate(db)
    finally:
        await db.dispose()
    c = sqlite3.connect(path)
    c.execute("PRAGMA foreign_keys = ON")
    assert c.execute("SELECT id, name, revoked, scope FROM api_keys ORDER BY id").fetchall() == [
        (1, "admin", 0, "full"), (2, "ci", 1, "full")]
    for table in ("users", "memberships", "user_sessions", "invitations"):
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        ddl = c.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        assert "AUTOINCREMENT" in ddl, table
    c.execute("INSERT INTO users (organization_id, email, name, password_hash, disabled, "
              "created_at) VALUES (1, 'a@example.com', 'A', 'h', 0, 0)")
    with pytest.raises(sqlite3.IntegrityError):  # one account per address and organisation
        c.execute("INSERT INTO users (organization_id, email, name, password_hash, disabled, "
                  "created_at) VALUES (1, 'a@example.com', 'B', 'h', 0, 0)")
    c.execute("INSERT INTO memberships (user_id, environment_id, role, created_at) "
              "VALUES (1, 1, 'viewer', 0)")
    c.execute("DELETE FROM environments WHERE id = 1")  # its memberships go with it
    assert c.execute("SELECT count(*) FROM memberships").fetchone() == (0,)
    assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    c.commit()
    c.close()
    eng = create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        command.downgrade(alembic_config(conn), "0009")
    eng.dispose()
    c = sqlite3.connect(path)
    columns = [r[1] for r in c.execute("PRAGMA table_info(api_keys)")]
    assert "scope" not in columns
    assert c.execute("SELECT name FROM sqlite_master WHERE name = 'users'").fetchone() is None
    c.close()
