"""Bulk-load path: job and execution rows written with plain SQL (stdlib ``sqlite3``) into the
database of a running ``schedo serve`` (SQLite in WAL mode lets us write beside it).

Defining 100,000 or 1,000,000 jobs through ``POST /jobs/definition`` would take minutes to
hours; the rows written here are the ones the storage layer writes (same columns, epoch
milliseconds, booleans as 0/1, JSON as text). After writing rows that change when something
is due, call ``common.poke_ticker`` so the ticker re-reads the earliest ``next_run_at``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

# A schedule that is never due during a benchmark (Jan 1st, 00:00).
NEVER = "0 0 1 1 *"
CHUNK = 20_000  # rows per transaction: keeps the server's writers from waiting long


def connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def env_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT id FROM environments ORDER BY id LIMIT 1").fetchone()
    if row is None:
        raise RuntimeError("database has no environment (was the server started on it?)")
    return int(row[0])


def now_ms() -> int:
    return int(time.time() * 1000)


def never_ms() -> int:
    """next_run_at of NEVER: next Jan 1st 00:00 UTC."""
    now = datetime.now(UTC)
    return int(datetime(now.year + 1, 1, 1, tzinfo=UTC).timestamp() * 1000)


def hourly_expr(instant: float) -> str:
    """6-field cron (seconds first) firing every hour at the minute/second of ``instant``."""
    d = datetime.fromtimestamp(instant, UTC)
    return f"{d.second} {d.minute} * * * *"


def once_expr(instant: float) -> str:
    """6-field cron that fires at ``instant`` (whole second) and next a year later."""
    d = datetime.fromtimestamp(instant, UTC)
    return f"{d.second} {d.minute} {d.hour} {d.day} {d.month} *"


def _chunks(rows: Iterable[tuple[object, ...]], n: int) -> Iterator[list[tuple[object, ...]]]:
    it = iter(rows)
    while chunk := list(islice(it, n)):
        yield chunk


JOB_SQL = """INSERT INTO jobs (environment_id, name, type, cron_expression, timezone, anchor_at,
 catch_up, paused, muted, blocking, timeout_seconds, max_retries, retry_count, metadata,
 webhook_url, command, status, health, last_run_at, next_run_at, created_at, updated_at)
 VALUES (?, ?, 'sdk', ?, 'UTC', ?, 'latest', 0, 0, 0, ?, 0, 0, '{}', NULL, NULL, 'pending',
 NULL, NULL, ?, ?, ?)"""


def insert_jobs(
    conn: sqlite3.Connection,
    env: int,
    jobs: Iterable[tuple[str, str, int]],
    timeout_seconds: int = 60,
) -> int:
    """Insert ``(name, cron_expression, next_run_at_ms)`` rows as sdk jobs; returns the count."""
    ts = now_ms()
    count = 0
    rows = ((env, name, expr, ts, timeout_seconds, nra, ts, ts) for name, expr, nra in jobs)
    for chunk in _chunks(rows, CHUNK):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(JOB_SQL, chunk)
        conn.execute("COMMIT")
        count += len(chunk)
    return count


def reschedule(conn: sqlite3.Connection, env: int, jobs: Sequence[tuple[str, str, int]]) -> None:
    """Set ``(name, cron_expression, next_run_at_ms)`` on existing jobs, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "UPDATE jobs SET cron_expression = ?, next_run_at = ? "
        "WHERE environment_id = ? AND name = ?",
        [(expr, nra, env, name) for name, expr, nra in jobs],
    )
    conn.execute("COMMIT")


EXEC_SQL = """INSERT INTO executions (job_id, environment_id, job_code, job_type, status, source,
 scheduled_for, attempt, "trigger", due_at, pickup_deadline, run_deadline, timeout_seconds,
 pick_up_time, start_time, end_time, duration, output, error, exit_code, metadata, created_at)
 VALUES (?, ?, ?, 'sdk', ?, 'manual', ?, 1, 'manual', ?, NULL, ?, 60, ?, ?, ?, ?, NULL, NULL,
 NULL, '{}', ?)"""


def insert_executions(
    conn: sqlite3.Connection,
    env: int,
    job_ids: dict[str, int],
    per_job: int,
    status: str,
    base_ms: int,
) -> int:
    """``per_job`` manual executions of every job: ``completed`` ones (history) or ``running``
    ones (to be reported). Distinct scheduled_for per row (the tick key is unique)."""
    far = base_ms + 86_400_000

    def rows() -> Iterator[tuple[object, ...]]:
        k = 0
        for name, jid in job_ids.items():
            for _ in range(per_job):
                k += 1
                t = base_ms + k
                if status == "completed":
                    yield (jid, env, name, status, t, t, None, t, t, t + 1, 1, t)
                else:
                    yield (jid, env, name, status, t, t, far, t, t, None, None, t)

    count = 0
    for chunk in _chunks(rows(), CHUNK):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(EXEC_SQL, chunk)
        conn.execute("COMMIT")
        count += len(chunk)
    return count


PENDING_SQL = """INSERT INTO executions (job_id, environment_id, job_code, job_type, status,
 source, scheduled_for, attempt, "trigger", due_at, pickup_deadline, run_deadline,
 timeout_seconds, pick_up_time, start_time, end_time, duration, output, error, exit_code,
 metadata, created_at)
 VALUES (?, ?, ?, 'sdk', 'pending', 'manual', ?, 1, 'manual', ?, ?, NULL, ?, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, '{}', ?)"""


def insert_pending(
    conn: sqlite3.Connection,
    env: int,
    job_ids: dict[str, int],
    per_job: int,
    base_ms: int,
    timeout_seconds: int = 3600,
) -> int:
    """``per_job`` pending manual executions of every job, claimable at once, with a pick-up
    deadline a day later (the reaper leaves them alone) and ``timeout_seconds`` (a claimed
    one expires that long after its claim). Due times interleave the jobs (run r of job j is
    due at ``base_ms`` + r * jobs + j), as in a backlog of jobs due at the same ticks."""
    far = base_ms + 86_400_000
    n = len(job_ids)

    def rows() -> Iterator[tuple[object, ...]]:
        for j, (name, jid) in enumerate(job_ids.items()):
            for r in range(per_job):
                t = base_ms + r * n + j + 1
                yield (jid, env, name, t, t, far, timeout_seconds, t)

    count = 0
    for chunk in _chunks(rows(), CHUNK):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(PENDING_SQL, chunk)
        conn.execute("COMMIT")
        count += len(chunk)
    return count


def job_ids(conn: sqlite3.Connection, env: int, prefix: str) -> dict[str, int]:
    return {
        str(n): int(i)
        for i, n in conn.execute(
            "SELECT id, name FROM jobs WHERE environment_id = ? AND name LIKE ? ORDER BY id",
            (env, prefix + "%"),
        )
    }


def connected_codes(conn: sqlite3.Connection, prefix: str) -> int:
    """How many job codes with ``prefix`` have a worker connection row (a worker polled)."""
    row = conn.execute(
        "SELECT count(DISTINCT job_code) FROM worker_connections WHERE job_code LIKE ?",
        (prefix + "%",),
    ).fetchone()
    return int(row[0])


def status_counts(conn: sqlite3.Connection, prefix: str, since_ms: int) -> dict[str, int]:
    return {
        str(s): int(n)
        for s, n in conn.execute(
            "SELECT status, count(*) FROM executions WHERE job_code LIKE ? "
            "AND source = 'schedule' AND attempt = 1 AND scheduled_for >= ? GROUP BY status",
            (prefix + "%", since_ms),
        )
    }


def runs(
    conn: sqlite3.Connection, prefix: str, since_ms: int
) -> list[tuple[int, int | None, int | None, str, int]]:
    """(scheduled_for, pick_up_time, end_time, status, created_at) in ms of scheduled runs."""
    return [
        (int(a), None if b is None else int(b), None if c is None else int(c), str(d), int(e))
        for a, b, c, d, e in conn.execute(
            "SELECT scheduled_for, pick_up_time, end_time, status, created_at FROM executions "
            "WHERE job_code LIKE ? AND source = 'schedule' AND attempt = 1 "
            "AND scheduled_for >= ?",
            (prefix + "%", since_ms),
        )
    ]


def progress(conn: sqlite3.Connection, prefix: str, since_ms: int) -> tuple[int, int, int]:
    """(created, picked up, completed) scheduled runs with ``prefix`` since ``since_ms``."""
    row = conn.execute(
        "SELECT count(*), count(pick_up_time), coalesce(sum(status = 'completed'), 0) "
        "FROM executions WHERE job_code LIKE ? AND source = 'schedule' AND attempt = 1 "
        "AND scheduled_for >= ?",
        (prefix + "%", since_ms),
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])
