"""A job's live runs (pending or running) are read from the partial index
``ix_executions_active_job`` (job_id, status), never by walking the job's history: every
read of them writes the index's condition word for word (``run_insert.is_active``), which is
what lets SQLite use a partial index (migration 0013). SQLite only: PostgreSQL's planner has
statistics and its own choice (tests/contract/test_dashboard_plans.py checks its scans)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.dialects import sqlite as sqlite_dialect

from schedo.server.storage import run_rows
from schedo.server.storage.db import sqlite_database
from tests.contract.kit import FAIL, OK, World, at

ACTIVE = "status IN ('pending', 'running')"
INDEX = "ix_executions_active_job"


def _plan(path: str, statement: str, parameters: Any) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
    finally:
        conn.close()


def _prepared(stmt: Any) -> tuple[str, list[Any]]:
    compiled = stmt.compile(dialect=sqlite_dialect.dialect())
    values = {"job_ids": "[1, 2]", "ids": "[1, 2]", "held": 0}
    return compiled.string, [values.get(n, 0) for n in compiled.positiontup or ()]


async def test_every_read_of_a_jobs_live_runs_uses_the_live_run_index(world: World) -> None:
    db = world.store.db
    path = sqlite_database(db.url)
    if path is None:
        pytest.skip("SQLite's planner (PostgreSQL has statistics)")
    s = world.store
    plain = await world.job("plain")
    blocking = await world.job("blocking", blocking=True)
    for i in range(30):  # a history the planner could walk
        run = await s.trigger(world.env, plain.id, at(i))
        await s.claim(world.env, [plain.name], ["sdk"], at(i), 1)
        await s.complete(world.env, run.id, OK if i % 3 else FAIL, at(i))
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = db.write_engine
    event.listen(engine, "before_cursor_execute", grab)
    try:
        live = await s.trigger(world.env, plain.id, at(100))
        await s.trigger(world.env, blocking.id, at(100))  # a blocking job: its live runs
        await s.claim(world.env, [plain.name], ["sdk"], at(100), 1)
        await s.complete(world.env, live.id, OK, at(101))
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    reads = [(st, p) for st, p in seen if ACTIVE in st and st.lstrip().upper().startswith("SELECT")]
    # driver statements, not seen above: the buffered runs, and the ended runs' jobs with
    # whether any run of theirs is buffered (run_rows._ended_jobs)
    reads.append(_prepared(run_rows._buffered(db).stmt))
    reads.append(_prepared(run_rows._ended_jobs(db).stmt))
    assert len(reads) >= 2, seen
    for statement, parameters in reads:
        plan = _plan(path, statement, parameters)
        assert any(INDEX in step for step in plan), (statement, plan)
        assert not any("ix_executions_job_id_id" in step for step in plan), (statement, plan)
