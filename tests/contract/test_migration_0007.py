"""Migration 0007 (target mode "all") on a SQLite database with data, made at 0006: every
run, its live output and the heartbeats are kept, the id sequence too, and the tick key is
now per host (one run per tick and host; still one per tick for runs without a host)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine

from schedo.server.storage.db import Database
from schedo.server.storage.migrate import alembic_config, migrate

RUN = """INSERT INTO executions (job_id, environment_id, job_code, job_type, status, source,
    scheduled_for, attempt, "trigger", due_at, timeout_seconds, metadata, created_at,
    target_host, target_tags) VALUES (1, 1, 'backup', 'command', 'pending', 'schedule', {at},
    1, 'schedule', 0, 60, '{{}}', 0, {host}, 'db')"""


def _database_at_0006(path: Path) -> None:
    eng = create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        command.upgrade(alembic_config(conn), "0006")
    eng.dispose()
    c = sqlite3.connect(path)
    c.executescript("""
        INSERT INTO organizations (id, name, created_at) VALUES (1, 'org', 0);
        INSERT INTO environments (id, organization_id, name, webhook_signature_key, created_at)
            VALUES (1, 1, 'production', 'k', 0);
        INSERT INTO jobs (id, environment_id, name, type, cron_expression, timezone, anchor_at,
            catch_up, paused, muted, blocking, timeout_seconds, max_retries, retry_count,
            metadata, status, created_at, updated_at)
            VALUES (1, 1, 'backup', 'command', '* * * * *', 'UTC', 0, 'latest', 0, 0, 0, 60, 0,
                    0, '{}', 'pending', 0, 0);
        INSERT INTO worker_heartbeats (environment_id, worker_id, last_seen) VALUES (1, 'w', 5);
    """)
    for i in range(1, 5):
        c.execute(RUN.format(at=i * 60000, host="NULL"))
    c.execute("DELETE FROM executions WHERE id = 4")  # its id is never given again
    c.execute("INSERT INTO execution_logs (execution_id, environment_id, at, stream, line) "
              "VALUES (2, 1, 0, 'stdout', 'hello')")
    c.commit()
    c.close()


async def test_0007_keeps_the_data_and_makes_the_tick_key_per_host(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _database_at_0006(path)
    db = Database(f"sqlite:///{path}")
    try:
        await migrate(db)
    finally:
        await db.dispose()
    c = sqlite3.connect(path)
    c.execute("PRAGMA foreign_keys = ON")
    assert c.execute("SELECT id, scheduled_for FROM executions").fetchall() == [
        (1, 60000), (2, 120000), (3, 180000)]
    assert c.execute("SELECT execution_id, line FROM execution_logs").fetchall() == [
        (2, "hello")]
    assert c.execute("SELECT worker_id, last_seen, agent_host, agent_tags "
                     "FROM worker_heartbeats").fetchall() == [("w", 5, None, None)]
    assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    ddl = c.execute("SELECT sql FROM sqlite_master WHERE name = 'executions'").fetchone()[0]
    assert "AUTOINCREMENT" in ddl and "uq_executions_tick" not in ddl
    index = c.execute("SELECT sql FROM sqlite_master WHERE name = 'uq_executions_tick'")
    assert "coalesce(target_host, '')" in index.fetchone()[0]
    for name in ("ix_executions_pending", "ix_executions_job_id_id"):
        assert c.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    with pytest.raises(sqlite3.IntegrityError):  # one run per tick without a host
        c.execute(RUN.format(at=60000, host="NULL"))
    c.execute(RUN.format(at=60000, host="'a'"))  # the same tick on host a and on host b
    c.execute(RUN.format(at=60000, host="'b'"))
    with pytest.raises(sqlite3.IntegrityError):
        c.execute(RUN.format(at=60000, host="'b'"))
    assert c.execute("SELECT min(id) FROM executions WHERE target_host = 'a'").fetchone() == (5,)
    # the cascade still holds: deleting the job deletes its runs and their output
    c.execute("DELETE FROM jobs WHERE id = 1")
    assert c.execute("SELECT count(*) FROM execution_logs").fetchone() == (0,)
    c.close()
