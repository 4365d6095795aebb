"""pgdrivers: what a completion's PostgreSQL round trips cost the client, per driver.

A single completion on PostgreSQL is seven round trips from the server (the key, BEGIN, the
locked read of the run, its end, the job's locked read, its ``UPDATE``, COMMIT;
bench/README.md, "What limits us now"). This scenario runs that same sequence of statements,
on tables of the same shape in a fresh database, through:

- ``asyncpg``: what the server uses, one round trip per statement;
- ``psycopg``: psycopg 3 (async, server-side prepared statements), one round trip each;
- ``psycopg pipeline``: psycopg 3's pipeline mode, the same statements in three syncs (the
  key, BEGIN and the run's read; its end and the job's read; the job's ``UPDATE`` and
  COMMIT), the lever an earlier session named for fewer round trips;
- ``asyncpg, one statement``: the floor, a completion as one statement of data-modifying
  CTEs with no decision taken between its steps (what the server could reach only with the
  rules of a run's end written in SQL).

Each mode runs ``connections`` connections on one uvloop event loop, each completing runs
one after the other, in alternating rounds (as ``interleave`` does, so that the machine's
drift falls on all alike). The figure is this process's CPU per completion (the client's
share, what the server pays), and completions per second.

Database: ``BENCH_PGDRIVERS_DATABASE``, else ``BENCH_API_DATABASE``, else
``SCHEDO_TEST_POSTGRES_URL`` (a loopback postgresql:// URL); a database of its own is
created there and dropped at the end. With none set it reports nothing and says so.
psycopg is not a dependency of Schedo: ``pip install 'psycopg[binary]'`` (3.3.9 measured);
without it only asyncpg is measured.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from . import pgload
from .common import Report

DATABASE_ENVS = ("BENCH_PGDRIVERS_DATABASE", "BENCH_API_DATABASE", "SCHEDO_TEST_POSTGRES_URL")
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"connections": 2, "completions": 50, "rounds": 1},
    "default": {"connections": 16, "completions": 400, "rounds": 3},
    "full": {"connections": 16, "completions": 1000, "rounds": 5},
}
RUNS = 20_000
SCHEMA = (
    "CREATE TABLE px_keys (hash text PRIMARY KEY, org int NOT NULL, revoked bool NOT NULL)",
    "CREATE TABLE px_jobs (id serial PRIMARY KEY, org int NOT NULL, failures int NOT NULL,"
    " status text NOT NULL, last_success timestamptz)",
    "CREATE TABLE px_runs (id serial PRIMARY KEY, job_id int NOT NULL, status text NOT NULL,"
    " output text, ended timestamptz)",
    "INSERT INTO px_keys VALUES ('k', 1, false)",
    "INSERT INTO px_jobs (org, failures, status) SELECT 1, 0, 'pending'"
    " FROM generate_series(1, 64)",
    f"INSERT INTO px_runs (job_id, status) SELECT 1 + (g % 64), 'running'"
    f" FROM generate_series(1, {RUNS}) g",
)
# the completion's statements, in asyncpg's ($n) and psycopg's (%s, in order) placeholders
KEY = ("SELECT org FROM px_keys WHERE hash = $1 AND NOT revoked",)
RUN = ("SELECT id, job_id, status FROM px_runs WHERE id = $1 FOR UPDATE",)
END = ("UPDATE px_runs SET status = $1, output = $2, ended = now() WHERE id = $3",)
JOB = ("SELECT id, failures, status FROM px_jobs WHERE id = $1 FOR UPDATE",)
TURN = ("UPDATE px_jobs SET failures = $1, status = $2, last_success = now() WHERE id = $3",)
ALL_IN_ONE = (
    "WITH k AS (SELECT org FROM px_keys WHERE hash = $1 AND NOT revoked),"
    " r AS (UPDATE px_runs SET status = $2, output = $3, ended = now()"
    " WHERE id = $4 AND EXISTS (SELECT 1 FROM k) RETURNING job_id)"
    " UPDATE px_jobs SET failures = 0, status = $2, last_success = now()"
    " WHERE id IN (SELECT job_id FROM r)")


def _ps(statement: tuple[str]) -> str:
    out = statement[0]
    for n in range(3, 0, -1):
        out = out.replace(f"${n}", "%s")
    return out


async def _asyncpg_one(c: asyncpg.Connection, rid: int) -> None:
    await c.fetchrow(KEY[0], "k")
    async with c.transaction():
        run = await c.fetchrow(RUN[0], rid)
        await c.execute(END[0], "completed", "ok", rid)
        job = await c.fetchrow(JOB[0], run["job_id"])
        await c.execute(TURN[0], 0, "completed", job["id"])


async def _asyncpg_all_in_one(c: asyncpg.Connection, rid: int) -> None:
    await c.execute(ALL_IN_ONE, "k", "completed", "ok", rid)


async def _psycopg_one(c: Any, rid: int) -> None:
    await (await c.execute(_ps(KEY), ("k",), prepare=True)).fetchone()
    async with c.transaction():
        run = await (await c.execute(_ps(RUN), (rid,), prepare=True)).fetchone()
        await c.execute(_ps(END), ("completed", "ok", rid), prepare=True)
        job = await (await c.execute(_ps(JOB), (run[1],), prepare=True)).fetchone()
        await c.execute(_ps(TURN), (0, "completed", job[0]), prepare=True)


async def _pipeline_one(c: Any, rid: int) -> None:
    async with c.pipeline() as p:
        key, run = c.cursor(), c.cursor()
        await key.execute(_ps(KEY), ("k",), prepare=True)
        await c.execute("BEGIN")
        await run.execute(_ps(RUN), (rid,), prepare=True)
        await p.sync()
        await key.fetchone()
        row = await run.fetchone()
        await c.execute(_ps(END), ("completed", "ok", rid), prepare=True)
        job = c.cursor()
        await job.execute(_ps(JOB), (row[1],), prepare=True)
        await p.sync()
        got = await job.fetchone()
        await c.execute(_ps(TURN), (0, "completed", got[0]), prepare=True)
        await c.execute("COMMIT")
        await p.sync()


Mode = tuple[Callable[[str], Awaitable[Any]], Callable[[Any, int], Awaitable[None]]]


def _modes() -> tuple[dict[str, Mode], str | None]:
    modes: dict[str, Mode] = {"asyncpg": (asyncpg.connect, _asyncpg_one),
                              "asyncpg, one statement": (asyncpg.connect, _asyncpg_all_in_one)}
    try:
        import psycopg
    except ImportError:
        return modes, "psycopg is not installed (pip install 'psycopg[binary]'): asyncpg only"

    async def connect(url: str) -> Any:
        return await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=0)

    modes["psycopg"] = (connect, _psycopg_one)
    modes["psycopg pipeline"] = (connect, _pipeline_one)
    return modes, f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__} implementation)"


async def _measure(url: str, p: dict[str, Any]) -> tuple[dict[str, dict[str, float]], str | None]:
    await pgload._execute(url, *SCHEMA)
    modes, note = _modes()
    cpu = dict.fromkeys(modes, 0.0)
    wall = dict.fromkeys(modes, 0.0)
    done = dict.fromkeys(modes, 0)
    next_run = 0
    for r in range(int(p["rounds"])):
        order = list(modes) if r % 2 == 0 else list(reversed(modes))
        for name in order:
            connect, one = modes[name]
            conns = [await connect(url) for _ in range(int(p["connections"]))]
            try:
                await asyncio.gather(*(one(c, 1 + i) for i, c in enumerate(conns)))  # warm

                async def serve(c: Any, first: int, one: Any = one) -> None:
                    for n in range(int(p["completions"])):
                        await one(c, 1 + (first + n) % RUNS)

                w0, c0 = time.perf_counter(), time.process_time()
                await asyncio.gather(*(serve(c, next_run + i * int(p["completions"]))
                                       for i, c in enumerate(conns)))
                wall[name] += time.perf_counter() - w0
                cpu[name] += time.process_time() - c0
                done[name] += len(conns) * int(p["completions"])
                next_run += len(conns) * int(p["completions"])
            finally:
                for c in conns:
                    await c.close()
    return {name: {"cpu_us": cpu[name] / done[name] * 1e6, "per_s": done[name] / wall[name],
                   "completions": done[name]} for name in modes}, note


def _database() -> str | None:
    for env in DATABASE_ENVS:
        if os.environ.get(env):
            return os.environ[env]
    return None


def run(size: str, workdir: Path) -> Report:
    p = dict(SIZES[size])
    rep = Report("pgdrivers", size, p)
    admin = _database()
    if admin is None:
        rep.notes.append(f"no PostgreSQL: set one of {', '.join(DATABASE_ENVS)}; nothing measured")
        return rep
    import uvloop

    with pgload.fresh_database(admin, prefix="bench_pgdrivers_") as url:
        rep.database = {"kind": "postgresql", "version": pgload.server_version(url),
                        "label": f"PostgreSQL {pgload.server_version(url)}"}
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            results, note = runner.run(_measure(pgload.libpq_url(url), p))
    base = results["asyncpg"]["cpu_us"]
    rep.headers = ["driver", "round trips", "client CPU / completion", "vs asyncpg",
                   "completions/s"]
    trips = {"asyncpg": 7, "asyncpg, one statement": 1, "psycopg": 7, "psycopg pipeline": 3}
    for name, r in results.items():
        rep.rows.append([name, str(trips[name]), f"{r['cpu_us']:.0f} µs",
                         f"{r['cpu_us'] / base:.2f}", f"{r['per_s']:.0f}"])
    rep.results = results
    if note:
        rep.notes.append(note)
    rep.notes.append(
        f"{p['connections']} connections on one uvloop loop, {p['completions']} completions "
        f"each per round, {p['rounds']} round(s) alternating the drivers; CPU is this "
        "process's (time.process_time), the database server's own CPU is not counted")
    return rep
