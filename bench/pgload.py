"""Bulk-load path for PostgreSQL: a fresh database of the bench's own on a given server, and the
rows bench/loader.py writes into SQLite, written here with asyncpg (installed with the server
extra).

Same columns and encodings as the storage layer (and bench/loader.py): times are BIGINT epoch
milliseconds, booleans are real booleans, JSON columns get the text ``{}``. Rows go in with
``COPY`` (``copy_records_to_table``), then the tables are ``ANALYZE``d, so the planner has
statistics at once instead of whenever autovacuum gets to them.

``fresh_database(url)`` creates ``bench_api_<random>`` on the server of ``url`` (its database
part only names where to connect for ``CREATE DATABASE``) and drops it on exit, failure
included. Loopback servers only, like everything in bench/.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from .loader import now_ms

T = TypeVar("T")
LOOPBACK = {"127.0.0.1", "localhost", "::1", ""}


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def libpq_url(url: str) -> str:
    """``postgresql[+driver]://…`` as the plain URL asyncpg takes; refuses other schemes and
    non-loopback hosts."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a postgresql:// URL: {url!r}")
    if (parts.hostname or "") not in LOOPBACK:
        raise ValueError(f"the bench only talks to loopback addresses, not {parts.hostname!r}")
    return urlunsplit(("postgresql", *parts[1:]))


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def shown(url: str) -> str:
    """``url`` without its password (for reports)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def _execute(url: str, *sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        for s in sql:
            await conn.execute(s)
    finally:
        await conn.close()


async def _fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def server_version(url: str) -> str:
    return str(_run(_fetch(libpq_url(url), "SHOW server_version"))[0][0])


@contextmanager
def fresh_database(admin_url: str, prefix: str = "bench_api_") -> Iterator[str]:
    """Create ``<prefix><random>`` on the server of ``admin_url``; yield its URL (the scheme
    of ``admin_url``); drop it (``WITH (FORCE)``: a server we failed to stop cannot keep it)
    when the block ends, however it ends."""
    admin = libpq_url(admin_url)
    name = prefix + secrets.token_hex(4)
    _run(_execute(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(admin_url, name)
    finally:
        _run(_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def env_id(url: str) -> int:
    rows = _run(_fetch(libpq_url(url), "SELECT id FROM environments ORDER BY id LIMIT 1"))
    if not rows:
        raise RuntimeError("database has no environment (was the server started on it?)")
    return int(rows[0][0])


JOB_COLUMNS = (
    "environment_id", "name", "type", "cron_expression", "timezone", "anchor_at", "catch_up",
    "paused", "muted", "blocking", "timeout_seconds", "max_retries", "retry_count", "metadata",
    "webhook_url", "command", "status", "health", "last_run_at", "next_run_at", "created_at",
    "updated_at",
)  # fmt: skip
EXEC_COLUMNS = (
    "job_id", "environment_id", "job_code", "job_type", "status", "source", "scheduled_for",
    "attempt", "trigger", "due_at", "pickup_deadline", "run_deadline", "timeout_seconds",
    "pick_up_time", "start_time", "end_time", "duration", "output", "error", "exit_code",
    "metadata", "created_at",
)  # fmt: skip


async def _copy(url: str, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> int:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.copy_records_to_table(table, records=rows, columns=list(columns))
        await conn.execute(f"ANALYZE {table}")
    finally:
        await conn.close()
    return len(rows)


def insert_jobs(
    url: str, env: int, jobs: Iterable[tuple[str, str, int]], timeout_seconds: int = 60
) -> int:
    """``(name, cron_expression, next_run_at_ms)`` rows as sdk jobs (bench/loader.JOB_SQL)."""
    ts = now_ms()
    rows: list[tuple[Any, ...]] = [
        (env, name, "sdk", expr, "UTC", ts, "latest", False, False, False, timeout_seconds,
         0, 0, "{}", None, None, "pending", None, None, nra, ts, ts)
        for name, expr, nra in jobs
    ]  # fmt: skip
    return _run(_copy(libpq_url(url), "jobs", JOB_COLUMNS, rows))


def insert_executions(
    url: str,
    env: int,
    job_ids: dict[str, int],
    per_job: int,
    status: str,
    base_ms: int,
    timeout_seconds: int = 60,
) -> int:
    """``per_job`` manual executions of every job, as bench/loader.insert_executions writes
    them: ``completed`` (history), ``running`` (to be reported) or ``pending`` (due at once,
    to be claimed, due times interleaving the jobs as bench/loader.insert_pending does).
    Distinct scheduled_for per row."""
    far = base_ms + 86_400_000
    rows: list[tuple[Any, ...]] = []
    k = 0
    n = len(job_ids)
    for j, (name, jid) in enumerate(job_ids.items()):
        for r in range(per_job):
            k += 1
            t = base_ms + (r * n + j + 1 if status == "pending" else k)
            if status == "completed":
                times: tuple[Any, ...] = (None, t, t, t + 1, 1)
            elif status == "running":
                times = (far, t, t, None, None)
            elif status == "pending":
                times = (None, None, None, None, None)
            else:
                raise ValueError(f"status {status!r}")
            pickup = far if status == "pending" else None
            rows.append(
                (jid, env, name, "sdk", status, "manual", t, 1, "manual", t, pickup, times[0],
                 timeout_seconds, *times[1:], None, None, None, "{}", t)
            )  # fmt: skip
    return _run(_copy(libpq_url(url), "executions", EXEC_COLUMNS, rows))


def job_ids(url: str, env: int, prefix: str) -> dict[str, int]:
    rows = _run(
        _fetch(
            libpq_url(url),
            "SELECT id, name FROM jobs WHERE environment_id = $1 AND name LIKE $2 ORDER BY id",
            env,
            prefix + "%",
        )
    )
    return {str(r[1]): int(r[0]) for r in rows}


def ids_with_status(url: str, status: str, prefix: str) -> list[int]:
    rows = _run(
        _fetch(
            libpq_url(url),
            "SELECT id FROM executions WHERE status = $1 AND job_code LIKE $2 ORDER BY id",
            status,
            prefix + "%",
        )
    )
    return [int(r[0]) for r in rows]


def sessions(url: str) -> int:
    """Sessions ever opened on the database of ``url`` (pg_stat_database, PostgreSQL 14+),
    this query's own excluded. Backends report their counts up to ~1 s late (10 s when
    idle), so a difference over a few seconds is approximate."""
    rows = _run(
        _fetch(
            libpq_url(url),
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()",
        )
    )
    return int(rows[0][0]) - 1 if rows and rows[0][0] is not None else 0


def delete_pending(url: str, prefix: str) -> None:
    """Remove the pending executions of the jobs named ``prefix``…: a claim route's pool
    left over, so it is not in the way of the next route's claims."""
    _run(
        _execute_args(
            libpq_url(url),
            "DELETE FROM executions WHERE status = 'pending' AND job_code LIKE $1",
            prefix + "%",
        )
    )


async def _execute_args(url: str, sql: str, *args: object) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()
