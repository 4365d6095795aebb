"""agents and runs per host: target mode "all" (issue 21)

- ``worker_heartbeats.agent_host`` / ``agent_tags``: what a connected agent announced, so a
  tick knows which hosts run a job whose target is ``{"tags": [...], "mode": "all"}``;
- the exactly-once key ``uq_executions_tick`` becomes a unique index over
  ``(job_id, source, scheduled_for, attempt, COALESCE(target_host, ''))``: one run per tick
  and host (NULLs are distinct in a unique index, hence the COALESCE: every run without a
  host stays exactly once). Existing rows all satisfy it (the old key was stricter).

SQLite cannot drop a table constraint: the table is rebuilt by SQLite's documented procedure
(as in 0003: new table from the stored DDL without the constraint, copy, drop, rename,
indexes), with foreign keys off (``storage.migrate``), keeping every row, every index, the
AUTOINCREMENT and its sequence.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KEY = ("job_id", "source", "scheduled_for", "attempt")
INDEX_SQL = ("CREATE UNIQUE INDEX uq_executions_tick ON executions "
             "(job_id, source, scheduled_for, attempt, coalesce(target_host, ''))")
_CONSTRAINT = re.compile(
    r",\s*CONSTRAINT uq_executions_tick UNIQUE \(job_id, source, scheduled_for, attempt\)")


def _rebuild_sqlite_without_constraint() -> None:
    bind = op.get_bind()
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("migration 0007 must run with SQLite foreign keys off")
    ddl = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'executions'"
    ).scalar_one()
    if _CONSTRAINT.search(ddl) is None:
        raise RuntimeError(f"migration 0007: unexpected schema of table executions: {ddl}")
    new = _CONSTRAINT.sub("", ddl, count=1)
    new = re.sub(r'^CREATE TABLE "?executions"? \(', "CREATE TABLE _new_executions (", new,
                 count=1)
    indexes = [r[0] for r in bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions' "
        "AND sql IS NOT NULL")]
    seq = bind.exec_driver_sql(
        "SELECT seq FROM sqlite_sequence WHERE name = 'executions'").scalar() or 0
    cols = ", ".join(f'"{r[1]}"' for r in bind.exec_driver_sql('PRAGMA table_info("executions")'))
    bind.exec_driver_sql(new)
    bind.exec_driver_sql(f"INSERT INTO _new_executions ({cols}) SELECT {cols} FROM executions")
    bind.exec_driver_sql("DROP TABLE executions")
    bind.exec_driver_sql("ALTER TABLE _new_executions RENAME TO executions")
    for sql in indexes:
        bind.exec_driver_sql(sql)
    # the sequence stays where it was (ids of deleted runs are never given again: 0003)
    top = bind.exec_driver_sql("SELECT max(id) FROM executions").scalar() or 0
    bind.exec_driver_sql(
        "DELETE FROM sqlite_sequence WHERE name IN ('executions', '_new_executions')")
    if max(seq, top) > 0:
        bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('executions', ?)",
                             (max(seq, top),))


def upgrade() -> None:
    op.add_column("worker_heartbeats", sa.Column("agent_host", sa.String(255), nullable=True))
    op.add_column("worker_heartbeats", sa.Column("agent_tags", sa.String(1000), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_without_constraint()
    else:
        op.drop_constraint("uq_executions_tick", "executions", type_="unique")
    op.execute(INDEX_SQL)


def downgrade() -> None:
    """Back to one run per tick: refused (IntegrityError) while runs of several hosts share
    a tick. The old key comes back as a unique index (the same guarantee)."""
    op.drop_index("uq_executions_tick", table_name="executions")
    op.create_index("uq_executions_tick", "executions", list(KEY), unique=True)
    with op.batch_alter_table("worker_heartbeats") as batch:
        batch.drop_column("agent_tags")
        batch.drop_column("agent_host")
