"""What storage does with the decisions of ``domain/lifecycle.py``: insert the runs it drafts,
mirror ended runs on their jobs, record health turns in the notifications outbox and insert
retries. Every path that ends runs (a report, a push answer, an expiry) calls ``after_end``
inside its own transaction, so the bookkeeping of an end is written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, exists, select, update

from ..domain import alerts, lifecycle, overlap, targets
from ..domain.audit import SYSTEM, Action, Kind
from ..domain.errors import NotFound
from ..domain.lifecycle import RunDraft
from ..domain.model import Health, NoticeKind, RunStatus
from ..domain.overlap import HELD
from ..domain.records import Job, Run
from . import audit_rows, rows
from .chain_rows import fire_chains
from .db import Conn, Database
from .driver_many import DriverMany
from .job_turns import write_job_turns
from .prepared import Prepared
from .run_insert import ACTIVE_VALUES as ACTIVE_VALUES
from .run_insert import RUN_KEY as RUN_KEY
from .run_insert import as_dt as as_dt
from .run_insert import draft_row as draft_row
from .run_insert import insert_runs as insert_runs
from .run_insert import is_active as is_active
from .run_insert import status_is
from .schema import environments, executions, jobs, notifications
from .sql_workers import connected_agents

NOTIFY_OUTPUT_HEAD = 2000


_MIRROR = DriverMany(
    update(jobs)
    .where(jobs.c.id == bindparam("j"), ~exists().where(
        executions.c.job_id == bindparam("j"),
        executions.c.id > bindparam("e"),
        executions.c.status != status_is(RunStatus.SKIPPED),
    ))
    .values(status=bindparam("s"), retry_count=bindparam("rc")),
    ("j", "e", "s", "rc"),
)


async def mirror_on_jobs(db: Database, c: Conn, runs: Sequence[Run]) -> None:
    """Each run's status on its job, if it is still the job's latest non-skipped run (a
    later run owns the status otherwise)."""
    params = []
    for e in runs:
        mirror = lifecycle.job_mirror(e)
        if mirror is not None:
            params.append((e.job_id, e.id, mirror[0].value, mirror[1]))
    await _MIRROR.run(db, c, params)


async def record_turns(
    db: Database, c: Conn, ended: Sequence[Run], now: datetime
) -> None:
    """The alert turns of ``ended`` (``alerts.after_run``): the job's new health, failure
    count, last success and no-success due time, a pause after repeated failures, and one
    outbox row per notice (inserted once per run and kind, whatever replays the end)."""
    if not ended:
        return
    res = await _alert_read(db).all(c, {"ids": db.among_value(sorted({e.job_id for e in ended}))})
    rows_ = {r.id: r for r in res}
    start = {j: alert_state(r) for j, r in rows_.items()}
    state = dict(start)
    reasons: dict[int, str] = {}
    notices: list[dict[str, Any]] = []
    for e in ended:
        job = rows_.get(e.job_id)
        if job is None:
            continue
        turn = alerts.after_run(e, state[e.job_id], alert_rules(job))
        if turn is None:
            continue
        state[e.job_id] = turn.state
        if turn.pause_reason is not None:
            reasons[e.job_id] = turn.pause_reason
        notices.extend(notice_row(job.organization_id, e, kind, now) for kind in turn.notices)
    changes: list[tuple[int, dict[str, Any]]] = []
    for j, st in state.items():
        if st == start[j]:
            continue
        r = rows_[j]
        values: dict[str, Any] = {
            "health": st.health.value if st.health else None,
            "consecutive_failures": st.failures,
            "last_success_at": st.last_success_at,
        }
        if st.health != start[j].health:  # reminders run while failing, from the turn
            values["remind_at"] = (alerts.remind_due(r.remind_every_seconds, now)
                                   if st.health is Health.FAILING else None)
        if st.last_success_at != start[j].last_success_at:
            values["success_due_at"] = alerts.success_due(
                r.success_within_seconds, st.last_success_at)
        if j in reasons:
            values.update(paused=True, next_run_at=None, paused_reason=reasons[j])
        changes.append((j, values))
        if j in reasons and not r.paused:  # the audit log: a pause the server made itself
            await audit_rows.record(c, r.environment_id, SYSTEM, now, Action.PAUSED, Kind.JOB,
                                    j, r.name, {"paused": [False, True],
                                                "paused_reason": [None, reasons[j]]})
    await write_job_turns(db, c, changes)  # one statement per set of columns, not per job
    if notices:
        await c.execute(
            db.insert(notifications).on_conflict_do_nothing(
                index_elements=["execution_id", "kind"]
            ),
            notices,
        )


_ALERT_COLUMNS = (
    jobs.c.id, jobs.c.environment_id, jobs.c.name, jobs.c.health, jobs.c.muted, jobs.c.paused,
    jobs.c.max_retries,
    jobs.c.alert_after_failures, jobs.c.max_duration_seconds, jobs.c.success_within_seconds,
    jobs.c.pause_after_failures, jobs.c.consecutive_failures, jobs.c.last_success_at,
    jobs.c.remind_every_seconds,
)


# built once per database: the alert state and rules of the jobs of ended runs (every
# report batch), a driver statement on SQLite (prepared.py), the ids one parameter
_ALERT_READ: WeakKeyDictionary[Database, Prepared] = WeakKeyDictionary()


def _alert_read(db: Database) -> Prepared:
    got = _ALERT_READ.get(db)
    if got is None:
        got = _ALERT_READ[db] = Prepared(
            select(*_ALERT_COLUMNS, environments.c.organization_id)
            .join(environments, environments.c.id == jobs.c.environment_id)
            .where(db.among_bound(jobs.c.id, "ids")))
    return got


def alert_state(r: Any) -> alerts.AlertState:
    return alerts.AlertState(
        health=Health(r.health) if r.health else None,
        failures=r.consecutive_failures or 0,
        last_success_at=r.last_success_at,
        paused=bool(r.paused),
    )


def alert_rules(r: Any) -> alerts.AlertRules:
    return alerts.AlertRules(
        alert_after_failures=r.alert_after_failures or 1,
        max_duration_seconds=r.max_duration_seconds,
        success_within_seconds=r.success_within_seconds,
        pause_after_failures=r.pause_after_failures,
        max_retries=r.max_retries,
        muted=bool(r.muted),
    )


def notice_row(org_id: int, e: Run, kind: NoticeKind, now: datetime,
               error: str | None = None) -> dict[str, Any]:
    """The outbox row of one notice about run ``e``."""
    return {
        "organization_id": org_id, "environment_id": e.environment_id,
        "job_id": e.job_id, "job_name": e.job_code, "kind": kind.value,
        "execution_id": e.id, "execution_status": e.status.value,
        "attempt": e.attempt, "scheduled_for": e.scheduled_for,
        "error": error if error is not None else e.error,
        "output": (e.output or "")[:NOTIFY_OUTPUT_HEAD] or None,
        "fanned_out": False, "created_at": now,
    }


async def create_retries(
    db: Database, c: Conn, ended: Sequence[Run], now: datetime
) -> None:
    """The next attempts of ``ended`` (``lifecycle.retries``), and their jobs' status
    (``lifecycle.retry_mirror``)."""
    failed = [e for e in ended if lifecycle.retryable(e)]
    if not failed:
        return
    res = await c.execute(select(jobs).where(jobs.c.id.in_({e.job_id for e in failed})))
    drafts = lifecycle.retries(failed, {j.id: j for j in (rows.job(r) for r in res)}, now)
    if not drafts:
        return
    await c.execute(insert_runs(db, returning=False), [draft_row(d) for d in drafts])
    mirrors = [(d.job.id, lifecycle.retry_mirror(d)) for d in drafts]
    await c.execute(
        update(jobs)
        .where(jobs.c.id == bindparam("j"))
        .values(status=bindparam("s"), retry_count=bindparam("rc")),
        [{"j": j, "s": st.value, "rc": rc} for j, (st, rc) in mirrors],
    )


async def after_end(
    db: Database, c: Conn, ended: Sequence[Run], now: datetime
) -> None:
    """Everything an end of runs brings, in the transaction that ended them: the job status
    mirror, the health turns, the retries, and the runs of jobs chained after them
    (``chain_rows.fire_chains``)."""
    await mirror_on_jobs(db, c, ended)
    await record_turns(db, c, ended, now)
    await create_retries(db, c, ended, now)
    await release_buffered(db, c, ended, now)
    await fire_chains(db, c, ended, now)


_BUFFERED: WeakKeyDictionary[Database, Prepared] = WeakKeyDictionary()


def _buffered(db: Database) -> Prepared:
    """The buffered runs of ``:job_ids`` (``among_value``): built once per database, a
    driver statement on SQLite (every report batch asks, and mostly finds none)."""
    got = _BUFFERED.get(db)
    if got is None:
        got = _BUFFERED[db] = Prepared(select(executions).where(
            db.among_bound(executions.c.job_id, "job_ids"),
            executions.c.status == status_is(RunStatus.PENDING), is_active(),
            executions.c.due_at >= HELD))
    return got


_BLOCKING = select(executions).where(
    executions.c.job_id.in_(bindparam("job_ids", expanding=True)),
    is_active(), executions.c.due_at < HELD)


async def release_buffered(db: Database, c: Conn, ended: Sequence[Run], now: datetime) -> None:
    """overlap=buffer_one: the buffered runs of the ended runs' jobs that
    ``overlap.released`` makes due now (one read when there are none)."""
    job_ids = sorted({e.job_id for e in ended})
    if not job_ids:
        return
    held = [rows.execution(r)
            for r in await _buffered(db).all(c, {"job_ids": db.among_value(job_ids)})]
    if not held:
        return
    live = [rows.execution(r) for r in await c.execute(
        _BLOCKING, {"job_ids": sorted({h.job_id for h in held})})]
    for r in overlap.released(held, live, now):
        await c.execute(update(executions).where(
            executions.c.id == r.id, executions.c.due_at >= HELD).values(
            due_at=r.due_at, pickup_deadline=r.pickup_deadline))


_JOB_IN_ENV = select(jobs).where(jobs.c.id == bindparam("job_id"),
                                 jobs.c.environment_id == bindparam("env_id"))


async def job_in_env(c: Conn, env_id: int, job_id: int) -> Job:
    r = (await c.execute(_JOB_IN_ENV, {"job_id": job_id, "env_id": env_id})).first()
    if r is None:
        raise NotFound(f"job {job_id} not found")
    return rows.job(r)


async def has_active(c: Conn, job_id: int) -> bool:
    r = (
        await c.execute(
            select(executions.c.id)
            .where(executions.c.job_id == job_id, is_active())
            .limit(1)
        )
    ).first()
    return r is not None


async def manual_drafts(c: Conn, job: Job, last_manual: datetime | None, now: datetime,
                        payload: dict[str, Any] | None) -> list[RunDraft]:
    """The runs a trigger of ``job`` makes now: one (``lifecycle.manual_run``), or for a
    target of mode "all" one per connected matching agent's host
    (``lifecycle.manual_fan_out``; a blocking job skips the hosts still busy)."""
    if not targets.fans_out(job.target):
        active = job.blocking and await has_active(c, job.id)
        return [lifecycle.manual_run(job, last_manual, now, active, payload)]
    agents = await connected_agents(c, {job.environment_id}, now - targets.CONNECTED_WITHIN)
    busy: set[str | None] = set()
    if job.blocking:
        busy = {r[0] for r in await c.execute(
            select(executions.c.target_host).where(executions.c.job_id == job.id,
                                                   is_active()))}
    lanes = targets.lanes(job.target, agents.get(job.environment_id, ()))
    return lifecycle.manual_fan_out(job, last_manual, now, busy, lanes, payload)
