"""Contract: the dashboard's reads of runs are bounded by an index, never a scan of the
environment's runs (issues 18 and 22: the pages a team keeps open refresh every ~2 s, with a
history of a million runs), on SQLite and PostgreSQL.

Every statement the reads run is captured as sent to the database (its SQL and parameters)
and explained there: on SQLite no step may ``SCAN`` the executions table (a ``SEARCH`` through
an index is the bounded kind); on PostgreSQL, with sequential scans priced out
(``enable_seqscan = off``: the planner takes one only when no index can serve), every plan node
on executions must be an index scan with an index condition (a scan of a whole index is a
full scan too), unless the index is a partial one of the live runs (pending or running)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event, func, select

from schedo.server.storage.contracts import JOB_SORTS, JobFilter
from schedo.server.storage.db import asyncpg_dsn, sqlite_database
from schedo.server.storage.schema import executions as e
from schedo.server.storage.sql import SqlStore
from tests.conftest import ADMIN_KEY, Api
from tests.contract.kit import FAIL, World, at

RUNS = re.compile(r"\b(executions|latest)\b")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# Partial indexes of the live runs only (pending or running): walking one whole is bounded by
# the runs waiting or running, not by the history (PostgreSQL's planner does so on tiny tables)
LIVE = ("ix_executions_pending", "ix_executions_pending_type", "ix_executions_active_job",
        "ix_executions_pickup_deadline", "ix_executions_run_deadline")


def _capture(store: SqlStore) -> list[tuple[str, Any]]:
    engine = store.db.read_engine
    target = getattr(engine, "sync_engine", engine)
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(target, "before_cursor_execute", grab)
    return seen


def _sqlite_scans(path: str, statement: str, parameters: Any) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        plan = [str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
    finally:
        conn.close()
    return [step for step in plan if step.startswith("SCAN") and RUNS.search(step)]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _pg_full_scans(plan: dict[str, Any]) -> list[str]:
    bad = []
    for n in _nodes(plan):
        kind = n["Node Type"]
        if n.get("Relation Name") == "executions" and kind not in (
            "Index Scan", "Index Only Scan", "Bitmap Heap Scan"
        ):
            bad.append(kind)
        if kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan") and (
            n.get("Relation Name", "executions") == "executions"
            and str(n.get("Index Name", "")).startswith(("ix_executions", "uq_executions"))
            and "Index Cond" not in n
            and n.get("Index Name") not in LIVE
        ):
            bad.append(f"{kind} on {n['Index Name']} without an index condition")
    return bad


async def _pg_scans(url: str, statements: list[tuple[str, Any]]) -> dict[str, list[str]]:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    found: dict[str, list[str]] = {}
    try:
        await conn.execute("SET enable_seqscan = off")
        for statement, parameters in statements:
            plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + statement, *parameters)
            bad = _pg_full_scans(json.loads(plan)[0]["Plan"])
            if bad:
                found[statement] = bad
    finally:
        await conn.close()
    return found


async def _scans(store: SqlStore, statements: list[tuple[str, Any]]) -> dict[str, list[str]]:
    path = sqlite_database(store.db.url)
    if path is None:
        return await _pg_scans(store.db.url, statements)
    found = {}
    for statement, parameters in statements:
        bad = _sqlite_scans(path, statement, parameters)
        if bad:
            found[statement] = bad
    return found


async def _some_history(world: World) -> list[int]:
    s = world.store
    ids = []
    for name in ("a", "b", "c"):
        job = await world.job(name)
        ids.append(job.id)
        for i in range(4):
            run = await s.trigger(world.env, job.id, at(i))
            if i % 2:
                await s.complete(world.env, run.id, FAIL, at(i + 1))
    foreign = await world.job("a", env=world.other_env)
    await s.trigger(world.other_env, foreign.id, at(1))
    return ids


# the jobs table's filters: none, failing (two waiting retries), and all of them at once
FILTERS = (JobFilter(), JobFilter(status="failed", waiting=(1, 2)),
           JobFilter(status="pending", kind="sdk", ids=tuple(range(1, 400))))


async def test_the_dashboard_reads_search_indexes_never_scan_the_runs(world: World) -> None:
    s = world.store
    ids = await _some_history(world)
    many = ids + list(range(10_000, 10_400))  # beyond the inline IN list: one array parameter
    reads: list[Callable[[], Awaitable[Any]]] = [
        lambda: s.count_runs_since(world.env, at(-86_400)),
        lambda: s.recent_runs(world.env, ids, 20),
        lambda: s.recent_runs(world.env, many, 20),
        lambda: s.needs_attention(world.env, at(-60), at(-86_400), 20),
        lambda: s.run_days(world.env, ids[0], at(-30 * 86_400)),
        lambda: s.runs_between(world.env, ids[0], at(-86_400), at(86_400), 500),
        *[(lambda k=k, d=d: s.job_order(world.env, k, d))  # type: ignore[misc]
          for k in JOB_SORTS for d in (False, True)],
        # the jobs table's page (issue 18): status and type filters, sort and page in SQL
        *[(lambda k=k, f=f: s.job_page(world.env, f, k, True, 50, 50))  # type: ignore[misc]
          for k in JOB_SORTS for f in FILTERS],
        *[(lambda f=f: s.job_counts(world.env, f)) for f in FILTERS],  # type: ignore[misc]
        lambda: s.job_targets(world.env),
        lambda: s.job_namings(world.env),
        lambda: s.retrying_jobs(world.env),
    ]
    seen = _capture(s)
    for read in reads:
        await read()
    statements = [(q, p) for q, p in seen if RUNS.search(q)]
    assert len(statements) >= 7 + len(FILTERS), seen  # the reads of runs were captured
    assert await _scans(s, statements) == {}


async def test_the_check_fails_on_a_scan_of_the_runs(world: World) -> None:
    """The check above can fail: a read of the environment's runs by status alone (what the
    24-hour counts were before migration 0012's index) is reported."""
    await _some_history(world)
    seen = _capture(world.store)
    async with world.store.db.read() as c:
        await c.execute(select(func.count()).where(e.c.error.like("boom%")))
    found = await _scans(world.store, [(q, p) for q, p in seen if RUNS.search(q)])
    assert len(found) == 1, found


# -- the work a read does does not grow with the history ---------------------------------------

OLD_RUNS = (40, 400)  # runs per job far in the past, before and after the history grows


async def _old_runs(world: World, job_ids: list[int], n: int, offset: int) -> None:
    """``n`` completed runs of each job, 40 to 400 days old (outside every window the
    dashboard reads: 24 hours, 30 days), written with one multi-row INSERT."""
    rows = [
        {"job_id": j, "environment_id": world.env, "job_code": f"j{j}", "job_type": "sdk",
         "status": "completed" if i % 3 else "expired", "source": "schedule",
         "scheduled_for": at(-(40 + (offset + i) % 360) * 86_400 - offset - i),
         "attempt": 1, "trigger": "schedule", "due_at": at(-40 * 86_400), "timeout_seconds": 60,
         "metadata": {}, "created_at": at(-40 * 86_400), "duration": 5}
        for j in job_ids for i in range(n)
    ]  # fmt: skip
    async with world.store.db.write() as c:
        await c.execute(e.insert(), rows)


def _sqlite_work(path: str, statement: str, parameters: Any) -> int:
    """SQLite's virtual-machine steps for the statement (a progress handler every 10)."""
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    conn = sqlite3.connect(path)
    try:
        conn.set_progress_handler(tick, 10)
        conn.execute(statement, parameters).fetchall()
    finally:
        conn.close()
    return steps[0] * 10


def _pg_rows_read(plan: dict[str, Any]) -> int:
    """Rows of executions the plan's nodes produced or filtered out, over all their loops."""
    total = 0
    for n in _nodes(plan):
        on_runs = n.get("Relation Name") == "executions" or str(
            n.get("Index Name", "")).startswith(("ix_executions", "uq_executions"))
        if on_runs:
            rows = n.get("Actual Rows", 0) + n.get("Rows Removed by Filter", 0)
            total += int(rows * n.get("Actual Loops", 1))
    return total


async def _work(store: SqlStore, statements: list[tuple[str, Any]]) -> list[int]:
    path = sqlite_database(store.db.url)
    if path is not None:
        return [_sqlite_work(path, q, p) for q, p in statements]
    conn = await asyncpg.connect(asyncpg_dsn(store.db.url), timeout=10)
    try:
        await conn.execute("ANALYZE executions")
        out = []
        for q, p in statements:
            plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + q, *p)
            out.append(_pg_rows_read(json.loads(plan)[0]["Plan"]))
        return out
    finally:
        await conn.close()


async def test_the_dashboard_reads_cost_the_same_with_ten_times_the_history(
    world: World,
) -> None:
    """A 20-run strip, the 24-hour counts, what needs you, the 30-day strip and a day page
    read as much with 400 old runs per job as with 40: their cost is what they show."""
    s = world.store
    ids = await _some_history(world)
    await _old_runs(world, ids, OLD_RUNS[0], 0)
    reads: list[Callable[[], Awaitable[Any]]] = [
        lambda: s.count_runs_since(world.env, at(-86_400)),
        lambda: s.recent_runs(world.env, ids, 20),
        lambda: s.needs_attention(world.env, at(-60), at(-86_400), 20),
        lambda: s.run_days(world.env, ids[0], at(-30 * 86_400)),
        lambda: s.runs_between(world.env, ids[0], at(-86_400), at(86_400), 500),
        lambda: s.job_page(world.env, FILTERS[1], "duration", True, 0, 50),
    ]
    seen = _capture(s)
    for read in reads:
        await read()
    statements = [(q, p) for q, p in seen if RUNS.search(q)]
    before = await _work(s, statements)
    await _old_runs(world, ids, OLD_RUNS[1] - OLD_RUNS[0], OLD_RUNS[0])
    after = await _work(s, statements)
    grown = {q.split("FROM")[0][:80] + f"… {b} -> {a}": (b, a)
             for (q, _), b, a in zip(statements, before, after, strict=True)
             if a > b * 1.2 + 50}
    assert not grown, grown


# -- whole pages -----------------------------------------------------------------------------

async def test_the_pages_a_team_keeps_open_never_scan_the_runs(api: Api) -> None:
    """Every statement the overview, the jobs table (sorted and not), the job page and their
    live fragments run, served by the app in-process and explained as above: no scan of the
    runs, whoever's read it is."""
    h = api.admin
    ids = []
    for name in ("page-a", "page-b"):
        job = await api.define(name=name, max_retries=0)
        ids.append(job["id"])
        for _ in range(3):
            r = await api.client.post(f"/jobs/trigger/{job['id']}", headers=h)
            assert r.status_code == 200, r.text
    store = api.svc.store
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        token = CSRF.search((await b.get("/ui/login")).text)
        assert token
        await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1)})
        seen = _capture(store)
        for url in ("/ui/", "/ui/live/overview", "/ui/jobs", "/ui/jobs?sort=status",
                    "/ui/jobs?sort=duration&dir=desc", "/ui/live/jobs", f"/ui/jobs/{ids[0]}",
                    "/ui/jobs?status=failed&type=sdk&sort=duration&page=2",
                    "/ui/live/jobs?q=PAGE&status=pending&tag=db&sort=last_run&dir=desc",
                    f"/ui/jobs/{ids[0]}/live"):
            page = await b.get(url)
            assert page.status_code == 200, (url, page.text[:300])
    statements = [(q, p) for q, p in seen if RUNS.search(q) and q.lstrip().startswith("SELECT")]
    assert len(statements) >= 8, seen
    assert await _scans(store, statements) == {}
