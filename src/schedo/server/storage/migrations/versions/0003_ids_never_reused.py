"""ids are never reused: SQLite tables get AUTOINCREMENT (PostgreSQL sequences never reuse)

Without AUTOINCREMENT, SQLite gives a new row ``max(id) + 1``, so deleting the newest job, run
or environment hands its id to the next one, which then inherits everything still keyed by it
(late worker reports, notification rows, links). SQLite can only add AUTOINCREMENT by
rebuilding a table; this follows its documented procedure (new table, copy, drop, rename,
indexes) with foreign keys off (``storage.migrate`` runs SQLite migrations so), keeping every
row and every index exactly as they were. ``sqlite_sequence`` is then raised above every id
that other rows still name, so an id a deleted row once had is never given again.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import re

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = (
    "organizations",
    "org_emails",
    "environments",
    "api_keys",
    "jobs",
    "executions",
    "notifications",
    "notification_deliveries",
)

# ids named by rows of other tables (no foreign key keeps them honest): the sequence of the
# table must start above all of them
FLOORS = {
    "environments": (
        "SELECT max(environment_id) FROM executions",
        "SELECT max(environment_id) FROM notifications",
        "SELECT max(environment_id) FROM worker_connections",
        "SELECT max(environment_id) FROM worker_heartbeats",
    ),
    "jobs": ("SELECT max(job_id) FROM notifications",),
    "executions": ("SELECT max(execution_id) FROM notifications",),
}


def _autoincrement_ddl(table: str, ddl: str) -> str:
    """The table's CREATE TABLE with ``id ... PRIMARY KEY AUTOINCREMENT`` under a new name."""
    pk = re.compile(rf",\s*CONSTRAINT (pk_{table}) PRIMARY KEY \(id\)")
    m = pk.search(ddl)
    col = re.compile(r"(\(\s*id INTEGER NOT NULL)")
    if m is None or col.search(ddl) is None:
        raise RuntimeError(f"migration 0003: unexpected schema of table {table}: {ddl}")
    out = pk.sub("", ddl, count=1)
    out = col.sub(rf"\1 CONSTRAINT {m.group(1)} PRIMARY KEY AUTOINCREMENT", out, count=1)
    head = re.compile(rf"^CREATE TABLE \"?{table}\"? \(")
    if head.search(out) is None:
        raise RuntimeError(f"migration 0003: unexpected schema of table {table}: {ddl}")
    return head.sub(f"CREATE TABLE _new_{table} (", out, count=1)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL: SERIAL sequences never hand out an id twice
    fk = bind.exec_driver_sql("PRAGMA foreign_keys").scalar()
    if fk:
        raise RuntimeError("migration 0003 must run with SQLite foreign keys off")
    for table in TABLES:
        ddl = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).scalar_one()
        if "AUTOINCREMENT" in ddl.upper():
            continue
        indexes = [
            r[0]
            for r in bind.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND sql IS NOT NULL",
                (table,),
            )
        ]
        cols = ", ".join(
            f'"{r[1]}"' for r in bind.exec_driver_sql(f'PRAGMA table_info("{table}")')
        )
        bind.exec_driver_sql(_autoincrement_ddl(table, ddl))
        bind.exec_driver_sql(f'INSERT INTO _new_{table} ({cols}) SELECT {cols} FROM "{table}"')
        bind.exec_driver_sql(f'DROP TABLE "{table}"')
        bind.exec_driver_sql(f'ALTER TABLE _new_{table} RENAME TO "{table}"')
        for sql in indexes:
            bind.exec_driver_sql(sql)
    for table in TABLES:
        floor = max(
            [bind.exec_driver_sql(f'SELECT max(id) FROM "{table}"').scalar() or 0]
            + [bind.exec_driver_sql(q).scalar() or 0 for q in FLOORS.get(table, ())]
        )
        if floor <= 0:
            continue
        bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        bind.exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, floor)
        )


def downgrade() -> None:
    """Nothing to undo that matters: AUTOINCREMENT only stops ids from being reused."""
