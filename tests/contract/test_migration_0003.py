"""Migration 0003 (ids never reused) on a SQLite database made by the earlier schema: every
row and index is kept, and no id that other rows still name is given again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from schedo.server.storage.db import Database
from schedo.server.storage.migrate import alembic_config, migrate


def _old_database(path: Path) -> None:
    """A database at revision 0002 holding a job whose newest run was deleted while a
    notification still names it (what id reuse used to collide with)."""
    eng = create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
    eng.dispose()
    c = sqlite3.connect(path)
    c.executescript("""
        INSERT INTO organizations (id, name, created_at) VALUES (1, 'org', 0);
        INSERT INTO environments (id, organization_id, name, webhook_signature_key, created_at)
            VALUES (1, 1, 'production', 'k', 0), (2, 1, 'staging', 'k', 0);
        INSERT INTO jobs (id, environment_id, name, type, cron_expression, timezone, anchor_at,
            catch_up, paused, muted, blocking, timeout_seconds, max_retries, retry_count,
            metadata, status, created_at, updated_at)
            VALUES (1, 1, 'nightly', 'sdk', '* * * * *', 'UTC', 0, 'latest', 0, 0, 0, 60, 0, 0,
                    '{}', 'pending', 0, 0);
        INSERT INTO executions (id, job_id, environment_id, job_code, job_type, status, source,
            scheduled_for, attempt, "trigger", due_at, timeout_seconds, metadata, created_at)
            VALUES (1, 1, 1, 'nightly', 'sdk', 'pending', 'schedule', 60000, 1, 'schedule',
                    60000, 60, '{}', 0);
        INSERT INTO notifications (id, organization_id, environment_id, job_id, job_name, kind,
            execution_id, execution_status, attempt, scheduled_for, fanned_out, created_at)
            VALUES (1, 1, 3, 7, 'gone', 'failing', 9, 'failed', 1, 0, 1, 0);
        INSERT INTO worker_heartbeats (environment_id, worker_id, last_seen) VALUES (5, 'w', 0);
    """)
    c.commit()
    c.close()


async def test_0003_keeps_rows_and_indexes_and_raises_sequences(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(path)
    before = sqlite3.connect(path)
    indexes = sorted(before.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    before.close()

    db = Database(f"sqlite:///{path}")
    try:
        await migrate(db)
    finally:
        await db.dispose()

    c = sqlite3.connect(path)
    c.execute("PRAGMA foreign_keys = ON")
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert c.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
    after = set(c.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    # later migrations may add indexes of their own, and 0013 gives one a second column
    replaced = {"ix_executions_active_job"}
    assert {i for i in indexes if i[0] not in replaced} <= after
    assert {name for name, _ in indexes} <= {name for name, _ in after}
    assert c.execute("SELECT id, name FROM jobs").fetchall() == [(1, "nightly")]
    assert c.execute("SELECT id, status FROM executions").fetchall() == [(1, "pending")]
    assert c.execute("SELECT count(*) FROM environments").fetchone() == (2,)
    assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    for table in ("jobs", "executions", "environments", "api_keys", "notifications"):
        ddl = c.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        assert "AUTOINCREMENT" in ddl, table
    # new ids start above every id still named elsewhere: execution 9, job 7, environment 5
    c.execute("""INSERT INTO jobs (environment_id, name, type, cron_expression, timezone,
        anchor_at, catch_up, paused, muted, blocking, timeout_seconds, max_retries, retry_count,
        metadata, status, created_at, updated_at)
        VALUES (1, 'another', 'sdk', '* * * * *', 'UTC', 0, 'latest', 0, 0, 0, 60, 0, 0, '{}',
                'pending', 0, 0)""")
    assert c.execute("SELECT max(id) FROM jobs").fetchone() == (8,)
    c.execute("""INSERT INTO executions (job_id, environment_id, job_code, job_type, status,
        source, scheduled_for, attempt, "trigger", due_at, timeout_seconds, metadata,
        created_at) VALUES (1, 1, 'nightly', 'sdk', 'pending', 'schedule', 120000, 1,
        'schedule', 120000, 60, '{}', 0)""")
    assert c.execute("SELECT max(id) FROM executions").fetchone() == (10,)
    c.execute("""INSERT INTO environments (organization_id, name, webhook_signature_key,
        created_at) VALUES (1, 'new', 'k', 0)""")
    assert c.execute("SELECT max(id) FROM environments").fetchone() == (6,)
    # and a deleted newest row's id is not given again
    c.execute("DELETE FROM environments WHERE id = 6")
    c.execute("""INSERT INTO environments (organization_id, name, webhook_signature_key,
        created_at) VALUES (1, 'newer', 'k', 0)""")
    assert c.execute("SELECT max(id) FROM environments").fetchone() == (7,)
    c.close()
