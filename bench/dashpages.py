"""dashpages: the dashboard pages a team keeps open, at scale (issues 18 and 22).

An environment of 500 jobs with ~1,000,000 runs of history (default size): the overview
``/ui/``, the jobs table ``/ui/jobs`` (unsorted, sorted by status and by duration, filtered by
status and type on its third page, by name), the job
page ``/ui/jobs/{id}``, and the live fragments the open tabs fetch every ~2 s
(``/ui/live/overview``, ``/ui/live/jobs``, ``/ui/jobs/{id}/live``), each requested one at a
time on one keep-alive connection signed in with the admin key, against the same server's
``/healthz`` in the same run (the floor of the HTTP stack and the client).

Server time per page: the CPU the server spends per request, from /proc — the ``schedo
serve`` process, plus on PostgreSQL the database's backends serving it (same machine) —
checked against the targets (docs/dashboard.md): overview and job page ≤ 20 ms, jobs table
≤ 50 ms at 500 jobs. The median (and p95) wall time of a request on loopback is shown too; on
this shared 2-core machine it includes waiting for a core (the load average is in the JSON).

The history: each job has ``runs / jobs`` runs spread over the last ``days`` days (scheduled
ticks, attempt 1), mostly completed, every 40th failed, every 150th expired, every 250th
skipped as missed, with durations that vary; the latest run of every 25th job is pending and
late (due 5 minutes ago, nothing took it). Jobs are never due during the bench, so the
scheduler is idle. Rows are bulk-loaded with SQL (stdlib sqlite3 on the server's file, COPY
on PostgreSQL), then each job's status and last run are set from its latest run.

Database: a fresh SQLite file by default; ``BENCH_DASHPAGES_DATABASE=postgresql://…`` runs it
on PostgreSQL (a fresh database of its own on that loopback server, dropped at the end).
``BENCH_DASHPAGES_REQUESTS=N``: N requests per page (and 1 warm-up) instead of the size's.
``BENCH_PROFILE_DIR`` records each page's loop with py-spy (common.Profiler).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from . import loader
from .api import _server
from .common import ADMIN_KEY, BenchError, Check, Profiler, Report, Server, percentile, proc_cpu_s

PREFIX = "dash-"
DATABASE_ENV = "BENCH_DASHPAGES_DATABASE"
REQUESTS_ENV = "BENCH_DASHPAGES_REQUESTS"  # requests per page instead of the size's (e.g. 5
# for a version whose pages take seconds)
SIZES: dict[str, dict[str, int]] = {
    "smoke": {"jobs": 50, "runs": 20_000, "days": 60, "requests": 8, "warmup": 2},
    "default": {"jobs": 500, "runs": 1_000_000, "days": 60, "requests": 60, "warmup": 5},
    "full": {"jobs": 500, "runs": 1_000_000, "days": 60, "requests": 200, "warmup": 10},
}
DAY_MS = 86_400_000
CHUNK = 50_000
EXEC_COLUMNS = (
    "job_id", "environment_id", "job_code", "job_type", "status", "source", "scheduled_for",
    "attempt", "trigger", "due_at", "pickup_deadline", "run_deadline", "timeout_seconds",
    "pick_up_time", "start_time", "end_time", "duration", "output", "error", "exit_code",
    "metadata", "created_at",
)  # fmt: skip
LATEST = """UPDATE jobs SET
 last_run_at = (SELECT max(scheduled_for) FROM executions e WHERE e.job_id = jobs.id),
 status = coalesce((SELECT CASE WHEN e.status IN ('completed', 'failed') THEN e.status
                    ELSE 'pending' END FROM executions e WHERE e.job_id = jobs.id
                    ORDER BY e.id DESC LIMIT 1), 'pending')
 WHERE environment_id = {env} AND name LIKE '{prefix}%'"""
TARGETS = {"overview": 0.020, "jobs": 0.050, "job page": 0.020}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _status(k: int, last: bool, late: bool) -> tuple[str, str | None]:
    if last and late:
        return "pending", None
    if k % 250 == 7:
        return "skipped", "missed: the server was down at the scheduled time"
    if k % 150 == 3:
        return "expired", "no worker picked the run up in time"
    if k % 40 == 1:
        return "failed", "exit code 1"
    return "completed", None


def history(env: int, ids: dict[str, int], per_job: int, days: int,
            now: int) -> Iterator[tuple[Any, ...]]:
    """The executions of every job (EXEC_COLUMNS order), oldest first per job."""
    step = max(1, days * DAY_MS // per_job)
    for j, (name, jid) in enumerate(ids.items()):
        late = j % 25 == 0
        first = now - 5 * 60_000 - (per_job - 1) * step - j * 997
        for r in range(per_job):
            k = jid * 7919 + r
            t = first + r * step
            status, error = _status(k, r == per_job - 1, late)
            done = status in ("completed", "failed")
            dur = 200 + (k * 37) % 5000 if done else None
            start = t + 50 if done else None
            end = t + 50 + (dur or 0) if done else None
            yield (jid, env, name, "sdk", status, "schedule", t, 1, "schedule", t,
                   now + DAY_MS if status == "pending" else None, None, 60, start, start, end,
                   dur, None, error, (1 if status == "failed" else 0) if done else None,
                   "{}", t)  # fmt: skip


def _load_sqlite(srv: Server, size: dict[str, int]) -> tuple[int, dict[str, int]]:
    conn = loader.connect(srv.db_path)
    try:
        env = loader.env_id(conn)
        names = [f"{PREFIX}{i:04d}" for i in range(size["jobs"])]
        loader.insert_jobs(conn, env, [(n, loader.NEVER, loader.never_ms()) for n in names])
        ids = loader.job_ids(conn, env, PREFIX)
        sql = (f"INSERT INTO executions ({', '.join(EXEC_COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(EXEC_COLUMNS))})").replace('trigger,', '"trigger",')
        rows = history(env, ids, size["runs"] // size["jobs"], size["days"], loader.now_ms())
        while chunk := [r for _, r in zip(range(CHUNK), rows, strict=False)]:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, chunk)
            conn.execute("COMMIT")
        conn.execute(LATEST.format(env=env, prefix=PREFIX))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return env, ids
    finally:
        conn.close()


async def _copy_pg(url: str, env: int, ids: dict[str, int], size: dict[str, int]) -> None:
    import asyncpg

    from . import pgload

    conn = await asyncpg.connect(pgload.libpq_url(url), timeout=10)
    try:
        rows = history(env, ids, size["runs"] // size["jobs"], size["days"], loader.now_ms())
        while chunk := [r for _, r in zip(range(CHUNK), rows, strict=False)]:
            await conn.copy_records_to_table("executions", records=chunk,
                                             columns=list(EXEC_COLUMNS))
        await conn.execute(LATEST.format(env=env, prefix=PREFIX))
        await conn.execute("VACUUM ANALYZE executions")
        await conn.execute("ANALYZE jobs")
    finally:
        await conn.close()


def _load(srv: Server, pg_url: str | None, size: dict[str, int]) -> tuple[int, dict[str, int]]:
    if pg_url is not None:
        from . import pgload

        env = pgload.env_id(pg_url)
        names = [f"{PREFIX}{i:04d}" for i in range(size["jobs"])]
        pgload.insert_jobs(pg_url, env, [(n, loader.NEVER, loader.never_ms()) for n in names])
        ids = pgload.job_ids(pg_url, env, PREFIX)
        asyncio.run(_copy_pg(pg_url, env, ids, size))
        return env, ids
    return _load_sqlite(srv, size)


def _sign_in(srv: Server) -> httpx.Client:
    c = httpx.Client(base_url=srv.url, timeout=60)
    token = CSRF.search(c.get("/ui/login").text)
    if token is None:
        raise BenchError("dashpages: no csrf token on /ui/login")
    r = c.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1), "next": "/ui/"})
    if r.status_code not in (302, 303):
        raise BenchError(f"dashpages: sign-in refused: {r.status_code}")
    return c


def _pg_backends(pg_url: str | None) -> list[int]:
    """The pids of the PostgreSQL backends serving the bench's database (same machine)."""
    if pg_url is None:
        return []
    from . import pgload

    rows = pgload._run(pgload._fetch(
        pgload.libpq_url(pg_url),
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"))  # fmt: skip
    return [int(r[0]) for r in rows]


def _cpu(srv: Server, backends: list[int]) -> float:
    return proc_cpu_s(srv.pid) + sum(proc_cpu_s(pid) for pid in backends)


def _measure(c: httpx.Client, srv: Server, name: str, path: str, n: int,
             warmup: int, pg_url: str | None = None) -> dict[str, Any]:
    for _ in range(warmup):
        r = c.get(path)
        if r.status_code != 200:
            raise BenchError(f"dashpages: {path} answered {r.status_code}: {r.text[:300]}")
    times: list[float] = []
    backends = _pg_backends(pg_url)  # the server's pool is open after the warm-up
    cpu0 = _cpu(srv, backends)
    with Profiler(srv.pid, "dashpages-" + re.sub(r"\W+", "-", name), n * 0.2):
        for _ in range(n):
            t0 = time.perf_counter()
            r = c.get(path)
            times.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise BenchError(f"dashpages: {path} answered {r.status_code}")
    cpu = _cpu(srv, backends) - cpu0
    return {"path": path, "n": n, "p50": percentile(times, 50), "p95": percentile(times, 95),
            "max": max(times), "cpu_per_request": cpu / n, "bytes": len(r.content)}


NEW_INDEXES = ("ix_executions_scheduled", "ix_executions_missed")  # migration 0012


def index_cost(workdir: Path, runs: int = 20_000, rounds: int = 3) -> dict[str, float]:
    """The write-path cost of migration 0012's indexes on SQLite: CPU µs per run to insert ``runs``
    runs (in batches of 500, as ticks are) and move each through running to completed (two
    updates by id, as claims and reports do), with and without the indexes; the best of
    ``rounds`` each."""
    import subprocess
    import sys

    path = workdir / "index-cost.db"
    code = ("import asyncio, sys; from schedo.server.storage.db import Database; "
            "from schedo.server.storage.migrate import migrate; "
            "db = Database('sqlite:///' + sys.argv[1]); asyncio.run(migrate(db)); "
            "asyncio.run(db.dispose())")  # fmt: skip
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=120)
    conn = loader.connect(path)
    out: dict[str, float] = {}
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        env = 1  # no environment row: plain sqlite3 does not enforce foreign keys
        loader.insert_jobs(conn, env, [("cost-job", loader.NEVER, loader.never_ms())])
        jid = loader.job_ids(conn, env, "cost-")["cost-job"]
        sql = (f"INSERT INTO executions ({', '.join(EXEC_COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(EXEC_COLUMNS))})").replace('trigger,', '"trigger",')
        for label in ("with", "without"):
            best = float("inf")
            for _ in range(rounds):
                conn.execute("DELETE FROM executions")
                rows = [(jid, env, "cost-job", "sdk", "pending", "schedule", 1_000 + i, 1,
                         "schedule", 1_000 + i, None, None, 60, None, None, None, None, None,
                         None, None, "{}", 1_000 + i) for i in range(runs)]  # fmt: skip
                t0 = time.process_time()
                for i in range(0, runs, 500):
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(sql, rows[i:i + 500])
                    conn.execute("COMMIT")
                ids = [r[0] for r in conn.execute("SELECT id FROM executions ORDER BY id")]
                for status in ("running", "completed"):
                    for i in range(0, runs, 500):
                        conn.execute("BEGIN IMMEDIATE")
                        conn.executemany("UPDATE executions SET status = ? WHERE id = ?",
                                         [(status, x) for x in ids[i:i + 500]])
                        conn.execute("COMMIT")
                best = min(best, time.process_time() - t0)
            out[label] = best / runs * 1e6
            for name in NEW_INDEXES:
                conn.execute(f"DROP INDEX IF EXISTS {name}")
    finally:
        conn.close()
    return out


def _pages(job_id: int) -> list[tuple[str, str]]:
    return [
        ("healthz", "/healthz"),
        ("overview", "/ui/"),
        ("overview live", "/ui/live/overview"),
        ("jobs", "/ui/jobs"),
        ("jobs by status", "/ui/jobs?sort=status"),
        ("jobs by duration", "/ui/jobs?sort=duration&dir=desc"),
        ("jobs live", "/ui/live/jobs"),
        ("jobs filtered", "/ui/jobs?status=completed&type=sdk&sort=last_run&dir=desc&page=3"),
        ("jobs by name", "/ui/jobs?q=dash-01&sort=next_run"),
        ("job page", f"/ui/jobs/{job_id}"),
        ("job live", f"/ui/jobs/{job_id}/live"),
    ]


def _ms(v: float) -> str:
    return f"{v * 1000:.1f} ms"


def run(size: str, workdir: Path, database: str | None = None) -> Report:
    """``database``: a postgresql:// URL (default ``$BENCH_DASHPAGES_DATABASE``; unset:
    a fresh SQLite file)."""
    cfg = dict(SIZES[size])
    if os.environ.get(REQUESTS_ENV):
        cfg["requests"] = int(os.environ[REQUESTS_ENV])
        cfg["warmup"] = min(cfg["warmup"], 1)
    if database is None:
        database = os.environ.get(DATABASE_ENV) or None
    rep = Report("dashpages", size, dict(cfg))
    with _server(workdir, database) as (srv, pg_url, info):
        rep.database = info
        t0 = time.perf_counter()
        env, ids = _load(srv, pg_url, cfg)
        load_s = time.perf_counter() - t0
        job_id = ids[f"{PREFIX}{len(ids) // 2:04d}"]
        results: dict[str, Any] = {"load_seconds": load_s, "env": env, "job_id": job_id,
                                   "runs": cfg["runs"] // cfg["jobs"] * cfg["jobs"]}
        c = _sign_in(srv)
        try:
            for name, path in _pages(job_id):
                results[name] = _measure(c, srv, name, path, cfg["requests"], cfg["warmup"],
                                         pg_url)
        finally:
            c.close()
    if pg_url is None:
        smoke = size == "smoke"
        results["index_cost_us_per_run"] = cost = index_cost(
            workdir, 2_000 if smoke else 20_000, 1 if smoke else 3)
        rep.notes.append(
            f"migration 0012's two indexes, SQLite write path (insert a run, then two status "
            f"updates): {cost['with']:.1f} µs per run with them, {cost['without']:.1f} µs "
            f"without")
    rep.results = results
    rep.headers = ["page", "p50 wall", "p95 wall", "max wall", "server CPU / request", "KB"]
    for name, _ in _pages(0):
        m = results[name]
        rep.rows.append([f"{name} ({m['path']})", _ms(m["p50"]), _ms(m["p95"]), _ms(m["max"]),
                         _ms(m["cpu_per_request"]), f"{m['bytes'] / 1024:.0f}"])
    for page, limit in TARGETS.items():
        names = [n for n, _ in _pages(0) if n.startswith(page)]
        worst = max(results[n]["cpu_per_request"] for n in names)
        wall = max(results[n]["p50"] for n in names)
        rep.checks.append(Check(
            f"{page} ({', '.join(names)}): server time, worst", f"≤ {_ms(limit)}",
            f"{_ms(worst)} CPU (p50 wall {_ms(wall)})", worst <= limit))
    rep.notes.append(f"{len(ids)} jobs, {results['runs']:,} runs over {cfg['days']} days, "
                     f"loaded in {load_s:.0f} s; one loopback keep-alive connection "
                     f"(healthz: the floor); server CPU includes PostgreSQL's backends")
    return rep
