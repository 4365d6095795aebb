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
from .job_turns import write_job_ends
from .prepared import Prepared
from .run_insert import ACTIVE_VALUES as ACTIVE_VALUES
from .run_insert import RUN_KEY as RUN_KEY
from .run_insert import as_dt as as_dt
from .run_insert import draft_row as draft_row
from .run_insert import insert_runs as insert_runs
from .run_insert import is_active as is_active
from .run_insert import later_run, status_is
from .schema import environments, executions, jobs, notifications
from .sql_workers import connected_agents

NOTIFY_OUTPUT_HEAD = 2000


_MIRROR = DriverMany(
    update(jobs)
    .where(jobs.c.id == bindparam("j"), ~later_run(bindparam("j"), bindparam("e")))
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


async def end_on_jobs(
    db: Database, c: Conn, ended: Sequence[Run], now: datetime
) -> dict[int, Any]:
    """What the ends in ``ended`` write on their jobs, one read and one ``UPDATE jobs`` per
    job (statements shared by the jobs of one shape): the status mirror of each job's
    latest ended run while no later non-skipped run exists (``lifecycle.job_mirror``; as
    ``mirror_on_jobs``), the alert turns (``alerts.after_run``: the new health, failure
    count, last success and no-success due time, a pause after repeated failures), one
    outbox row per notice (once per run and kind, whatever replays the end) and the server's
    own pause in the audit log. Returns the jobs' rows as read (``_ended_jobs``: with
    whether any run of theirs is buffered and any job of their environment is chained);
    a job deleted meanwhile is not among them."""
    if not ended:
        return {}
    res = await _ended_jobs(db).all(c, {"ids": db.among_value(sorted({e.job_id for e in ended}))})
    rows_ = {r.id: r for r in res}
    start = {j: alert_state(r) for j, r in rows_.items()}
    state = dict(start)
    reasons: dict[int, str] = {}
    notices: list[dict[str, Any]] = []
    mirrors: dict[int, tuple[int, str, int]] = {}  # job: (run id, status, retry count)
    for e in ended:
        job = rows_.get(e.job_id)
        if job is None:
            continue
        mirror = lifecycle.job_mirror(e)
        # of a job's ended runs only the latest can be its latest non-skipped run
        if mirror is not None and (e.job_id not in mirrors or e.id > mirrors[e.job_id][0]):
            mirrors[e.job_id] = (e.id, mirror[0].value, mirror[1])
        turn = alerts.after_run(e, state[e.job_id], alert_rules(job))
        if turn is None:
            continue
        state[e.job_id] = turn.state
        if turn.pause_reason is not None:
            reasons[e.job_id] = turn.pause_reason
        notices.extend(notice_row(job.organization_id, e, kind, now) for kind in turn.notices)
    changes: list[tuple[int, dict[str, Any], tuple[int, str, int] | None]] = []
    for j, r in rows_.items():
        st = state[j]
        values: dict[str, Any] = {}
        if st != start[j]:
            values = _turn_values(r, start[j], st, now, reasons.get(j))
            if j in reasons and not r.paused:  # the audit log: a pause the server made
                await audit_rows.record(c, r.environment_id, SYSTEM, now, Action.PAUSED,
                                        Kind.JOB, j, r.name,
                                        {"paused": [False, True],
                                         "paused_reason": [None, reasons[j]]})
        if values or j in mirrors:
            changes.append((j, values, mirrors.get(j)))
    await write_job_ends(db, c, changes)  # one statement per shape of change, not per job
    if notices:
        await c.execute(
            db.insert(notifications).on_conflict_do_nothing(
                index_elements=["execution_id", "kind"]
            ),
            notices,
        )
    return rows_


def _turn_values(r: Any, before: alerts.AlertState, st: alerts.AlertState, now: datetime,
                 reason: str | None) -> dict[str, Any]:
    """The job columns an alert turn from ``before`` to ``st`` sets on job row ``r``."""
    values: dict[str, Any] = {
        "health": st.health.value if st.health else None,
        "consecutive_failures": st.failures,
        "last_success_at": st.last_success_at,
    }
    if st.health != before.health:  # reminders run while failing, from the turn
        values["remind_at"] = (alerts.remind_due(r.remind_every_seconds, now)
                               if st.health is Health.FAILING else None)
    if st.last_success_at != before.last_success_at:
        values["success_due_at"] = alerts.success_due(
            r.success_within_seconds, st.last_success_at)
    if reason is not None:
        values.update(paused=True, next_run_at=None, paused_reason=reason)
    return values


_ALERT_COLUMNS = (
    jobs.c.id, jobs.c.environment_id, jobs.c.name, jobs.c.health, jobs.c.muted, jobs.c.paused,
    jobs.c.max_retries,
    jobs.c.alert_after_failures, jobs.c.max_duration_seconds, jobs.c.success_within_seconds,
    jobs.c.pause_after_failures, jobs.c.consecutive_failures, jobs.c.last_success_at,
    jobs.c.remind_every_seconds,
)


# built once per database: the alert state and rules of the jobs of ended runs (every
# report batch), a driver statement (prepared.py), the ids one parameter
_ENDED_JOBS: WeakKeyDictionary[Database, Prepared] = WeakKeyDictionary()


def _ended_jobs(db: Database) -> Prepared:
    """The jobs ``:ids`` (``among_value``) whose runs ended: their alert state and rules,
    their organisation, ``buffered`` (a run of theirs is held by overlap=buffer_one) and
    ``chained`` (a job of their environment runs after others), in id order; locked on
    PostgreSQL (``FOR UPDATE OF jobs``), as the UPDATE that follows would lock them, so a
    concurrent end of the same job reads the turns this one writes."""
    got = _ENDED_JOBS.get(db)
    if got is None:
        chained_jobs = jobs.alias("chained")
        q = (select(*_ALERT_COLUMNS, environments.c.organization_id,
                    exists().where(executions.c.job_id == jobs.c.id,
                                   executions.c.status == status_is(RunStatus.PENDING),
                                   is_active(), executions.c.due_at >= HELD
                                   ).label("buffered"),
                    exists().where(chained_jobs.c.environment_id == jobs.c.environment_id,
                                   chained_jobs.c.after.is_not(None)).label("chained"))
             .join(environments, environments.c.id == jobs.c.environment_id)
             .where(db.among_bound(jobs.c.id, "ids"))
             .order_by(jobs.c.id))
        got = _ENDED_JOBS[db] = Prepared(q, q.with_for_update(of=jobs))
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
) -> bool:
    """The next attempts of ``ended`` (``lifecycle.retries``), and their jobs' status
    (``lifecycle.retry_mirror``); whether there were any."""
    failed = [e for e in ended if lifecycle.retryable(e)]
    if not failed:
        return False
    res = await c.execute(select(jobs).where(jobs.c.id.in_({e.job_id for e in failed})))
    drafts = lifecycle.retries(failed, {j.id: j for j in (rows.job(r) for r in res)}, now)
    if not drafts:
        return False
    await c.execute(insert_runs(db, returning=False), [draft_row(d) for d in drafts])
    mirrors = [(d.job.id, lifecycle.retry_mirror(d)) for d in drafts]
    await c.execute(
        update(jobs)
        .where(jobs.c.id == bindparam("j"))
        .values(status=bindparam("s"), retry_count=bindparam("rc")),
        [{"j": j, "s": st.value, "rc": rc} for j, (st, rc) in mirrors],
    )
    return True


async def after_end(
    db: Database, c: Conn, ended: Sequence[Run], now: datetime
) -> None:
    """Everything an end of runs brings, in the transaction that ended them: the job status
    mirror and the health turns (``end_on_jobs``), the retries, the buffered runs released
    and the runs of jobs chained after them (``chain_rows.fire_chains``). The jobs' read
    says whether there are buffered or chained ones to look for: most ends have neither."""
    read = await end_on_jobs(db, c, ended, now)
    retried = await create_retries(db, c, ended, now)
    gone = any(e.job_id not in read for e in ended)  # deleted meanwhile: look as before
    await release_buffered(db, c, [e for e in ended if retried or gone
                                   or read[e.job_id].buffered], now)
    if gone or any(r.chained for r in read.values()):
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


async def job_in_env(c: Conn, env_id: int, job_id: int, lock: Database | None = None) -> Job:
    """The job; NotFound unless it is in ``env_id``. With ``lock`` (the database), its row
    locked until the transaction ends (storage/locks.py: a job deleted by a racer that held
    the lock first is not found either)."""
    stmt = _JOB_IN_ENV if lock is None else lock.for_update(_JOB_IN_ENV)
    r = (await c.execute(stmt, {"job_id": job_id, "env_id": env_id})).first()
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
