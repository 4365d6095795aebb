"""SQLite's planner has no statistics (Schedo never runs ANALYZE): a claim of a few job codes
must still search the codes' index, not walk every pending run in due order through
``(job_type, due_at)`` (6 ms instead of 8 µs with 64,000 pending runs of other jobs)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from schedo.server.domain.timefmt import to_ms
from schedo.server.storage import claim_sql
from schedo.server.storage.claim_filters import codes_filter, types_filter
from schedo.server.storage.db import Database
from schedo.server.storage.migrate import migrate
from schedo.server.storage.schema import executions


async def test_a_claim_of_named_codes_searches_the_codes_index(tmp_path: Path) -> None:
    path = tmp_path / "plan.db"
    db = Database(f"sqlite:///{path}")
    try:
        await migrate(db)
        q = (
            select(executions.c.id)
            .where(executions.c.status == "pending", executions.c.environment_id == 1,
                   codes_filter(db, ["a"]), executions.c.due_at <= 5,
                   types_filter(db, ["a"], ["sdk"]))
            .order_by(executions.c.due_at, executions.c.id)
            .limit(10)
        )
        sql = str(q.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    finally:
        await db.dispose()
    conn = sqlite3.connect(path)
    try:
        plan = " ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql))
    finally:
        conn.close()
    assert "USING INDEX ix_executions_pending (environment_id=? AND job_code=?" in plan, plan


async def test_the_claim_statement_of_a_few_codes_searches_the_codes_index(
        tmp_path: Path) -> None:
    """The claim as it runs (``claim_sql.claim_statement``, a driver statement with one
    parameter per code when a few are named): the same plan for one code and for several."""
    path = tmp_path / "plan.db"
    db = Database(f"sqlite:///{path}")
    try:
        await migrate(db)
        forms = []
        for codes in (["a"], ["a", "b", "c"]):
            stmt = claim_sql.claim_statement(db, codes, ["sdk"], keyed=True)
            params = claim_sql.claim_params(db, 1, codes, datetime.now(UTC), 10, 7, "w")
            compiled = stmt.stmt.compile(dialect=sqlite.dialect())
            assert not compiled.post_compile_params  # no expanding list: one text per count
            names = compiled.positiontup or []
            forms.append((compiled.string, [compiled.construct_params(params)[n]
                                            for n in names]))
    finally:
        await db.dispose()
    conn = sqlite3.connect(path)
    try:
        for sql, args in forms:
            args = [to_ms(a) if isinstance(a, datetime) else a for a in args]
            plan = " ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
            assert "USING INDEX ix_executions_pending (environment_id=? AND job_code=?" in plan, \
                plan
    finally:
        conn.close()
