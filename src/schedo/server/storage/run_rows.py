"""What storage does with the decisions of ``domain/lifecycle.py``: insert the runs it drafts,
mirror ended runs on their jobs, record health turns in the notifications outbox and insert
retries. Every path that ends runs (a report, a push answer, an expiry) calls ``after_end``
inside its own transaction, so the bookkeeping of an end is written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import lifecycle
from ..domain.errors import NotFound
from ..domain.lifecycle import RunDraft
from ..domain.model import ACTIVE, Health, JobStatus, RunStatus
from ..domain.overlap import HELD
from ..domain.policies import pickup_deadline
from ..domain.records import Job, Run
from ..domain.timefmt import from_ms
from . import rows
from .db import Database
from .schema import environments, executions, jobs, notifications

ACTIVE_VALUES = [s.value for s in ACTIVE]
RUN_KEY = ["job_id", "source", "scheduled_for", "attempt"]  # exactly once per tick
NOTIFY_OUTPUT_HEAD = 2000


def draft_row(d: RunDraft) -> dict[str, Any]:
    """The executions row of a drafted run."""
    job = d.job
    return {
        "job_id": job.id, "environment_id": job.environment_id, "job_code": job.name,
        "job_type": job.type.value, "status": d.status.value, "source": d.source.value,
        "scheduled_for": d.scheduled_for, "attempt": d.attempt, "trigger": d.trigger.value,
        "due_at": d.due_at, "pickup_deadline": d.pickup_deadline, "run_deadline": None,
        "timeout_seconds": job.timeout_seconds, "pick_up_time": None, "start_time": None,
        "end_time": d.end_time, "duration": None, "output": None, "error": d.error,
        "exit_code": None, "metadata": d.metadata, "created_at": d.created_at,
        "payload": d.payload,
    }


def insert_runs(db: Database, returning: bool = True) -> Any:
    """INSERT of drafted runs that skips a run whose (job, source, instant, attempt) exists:
    the database makes every tick and retry exactly once."""
    stmt = db.insert(executions).on_conflict_do_nothing(index_elements=RUN_KEY)
    return stmt.returning(*executions.c) if returning else stmt


async def mirror_on_jobs(c: AsyncConnection, runs: Sequence[Run]) -> None:
    """Each run's status on its job, if it is still the job's latest non-skipped run (a
    later run owns the status otherwise)."""
    params = []
    for e in runs:
        mirror = lifecycle.job_mirror(e)
        if mirror is not None:
            params.append({"j": e.job_id, "e": e.id, "s": mirror[0].value, "rc": mirror[1]})
    if not params:
        return
    later = exists().where(
        executions.c.job_id == bindparam("j"),
        executions.c.id > bindparam("e"),
        executions.c.status != RunStatus.SKIPPED.value,
    )
    await c.execute(
        update(jobs)
        .where(jobs.c.id == bindparam("j"), ~later)
        .values(status=bindparam("s"), retry_count=bindparam("rc")),
        params,
    )


async def record_turns(
    db: Database, c: AsyncConnection, ended: Sequence[Run], now: datetime
) -> None:
    """The health turns of ``ended`` (``lifecycle.health_turn``): the job's new health, and
    one outbox row per notice (inserted once per run and kind, whatever replays the end)."""
    if not ended:
        return
    res = await c.execute(
        select(jobs.c.id, jobs.c.health, jobs.c.muted, jobs.c.max_retries,
               environments.c.organization_id)
        .join(environments, environments.c.id == jobs.c.environment_id)
        .where(jobs.c.id.in_({e.job_id for e in ended}))
    )
    state = {r.id: r for r in res}
    health: dict[int, Health | None] = {
        j: Health(r.health) if r.health else None for j, r in state.items()
    }
    notices: list[dict[str, Any]] = []
    for e in ended:
        job = state.get(e.job_id)
        if job is None:
            continue
        turn = lifecycle.health_turn(e, health[e.job_id], bool(job.muted), job.max_retries)
        if turn is None:
            continue
        health[e.job_id] = turn.health
        if turn.notice is not None:
            notices.append({
                "organization_id": job.organization_id, "environment_id": e.environment_id,
                "job_id": e.job_id, "job_name": e.job_code, "kind": turn.notice.value,
                "execution_id": e.id, "execution_status": e.status.value,
                "attempt": e.attempt, "scheduled_for": e.scheduled_for, "error": e.error,
                "output": (e.output or "")[:NOTIFY_OUTPUT_HEAD] or None,
                "fanned_out": False, "created_at": now,
            })
    changed = [{"j": j, "h": h.value} for j, h in health.items()
               if h is not None and h.value != state[j].health]
    if changed:
        await c.execute(
            update(jobs).where(jobs.c.id == bindparam("j")).values(health=bindparam("h")),
            changed,
        )
    if notices:
        await c.execute(
            db.insert(notifications).on_conflict_do_nothing(
                index_elements=["execution_id", "kind"]
            ),
            notices,
        )


async def create_retries(
    db: Database, c: AsyncConnection, ended: Sequence[Run], now: datetime
) -> None:
    """The next attempt of each failed or expired run whose job allows one
    (``lifecycle.retry_of``); the job reads pending with the retries used."""
    failed = [e for e in ended if e.status in (RunStatus.FAILED, RunStatus.EXPIRED)]
    if not failed:
        return
    res = await c.execute(select(jobs).where(jobs.c.id.in_({e.job_id for e in failed})))
    by_id = {j.id: j for j in (rows.job(r) for r in res)}
    drafts = [d for e in failed if e.job_id in by_id
              if (d := lifecycle.retry_of(e, by_id[e.job_id], now)) is not None]
    if not drafts:
        return
    await c.execute(insert_runs(db, returning=False), [draft_row(d) for d in drafts])
    await c.execute(
        update(jobs)
        .where(jobs.c.id == bindparam("j"))
        .values(status=JobStatus.PENDING.value, retry_count=bindparam("rc")),
        [{"j": d.job.id, "rc": d.attempt - 1} for d in drafts],
    )


async def after_end(
    db: Database, c: AsyncConnection, ended: Sequence[Run], now: datetime
) -> None:
    """Everything an end of runs brings, in the transaction that ended them: the job status
    mirror, the health turns and the retries."""
    await mirror_on_jobs(c, ended)
    await record_turns(db, c, ended, now)
    await create_retries(db, c, ended, now)
    await release_buffered(c, ended, now)


async def release_buffered(c: AsyncConnection, ended: Sequence[Run], now: datetime) -> None:
    """overlap=buffer_one: a run buffered while another was active becomes due now, with
    its pick-up window from now, once no other run of its job is pending or running."""
    job_ids = {e.job_id for e in ended}
    if not job_ids:
        return
    other = executions.alias("other")
    busy = (select(other.c.id).where(other.c.job_id == executions.c.job_id,
                                     other.c.status.in_(ACTIVE_VALUES), other.c.due_at < HELD)
            .exists())
    held = (await c.execute(select(executions.c.id, executions.c.timeout_seconds).where(
        executions.c.job_id.in_(job_ids), executions.c.status == RunStatus.PENDING.value,
        executions.c.due_at >= HELD, ~busy))).all()
    for run_id, timeout in held:
        await c.execute(update(executions).where(
            executions.c.id == run_id, executions.c.due_at >= HELD).values(
            due_at=now, pickup_deadline=pickup_deadline(now, timeout)))


def as_dt(v: Any) -> datetime | None:
    """Aggregates over EpochMs columns come back converted on most drivers; be sure."""
    if v is None or isinstance(v, datetime):
        return v
    return from_ms(int(v))


async def job_in_env(c: AsyncConnection, env_id: int, job_id: int) -> Job:
    r = (
        await c.execute(select(jobs).where(jobs.c.id == job_id, jobs.c.environment_id == env_id))
    ).first()
    if r is None:
        raise NotFound(f"job {job_id} not found")
    return rows.job(r)


async def has_active(c: AsyncConnection, job_id: int) -> bool:
    r = (
        await c.execute(
            select(executions.c.id)
            .where(executions.c.job_id == job_id, executions.c.status.in_(ACTIVE_VALUES))
            .limit(1)
        )
    ).first()
    return r is not None
