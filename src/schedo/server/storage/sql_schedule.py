"""The scheduler's batch writes (contract: SchedulerStore): ticks and expiries.

What a tick creates and how a run expires is decided in ``domain/lifecycle.py``; this module
reads the rows, asks it, and writes the answer in one transaction per batch.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, func, select, union_all, update

from ..domain import lifecycle, overlap, targets
from ..domain.errors import UnreadableRow
from ..domain.lifecycle import RunDraft
from ..domain.model import RunStatus
from ..domain.overlap import HELD, Slots
from ..domain.records import Job, Run
from . import rows
from .contracts import Planner, TickResult
from .db import Conn, Database
from .driver_many import DriverMany, ms_or_none
from .prepared import Prepared
from .run_insert import insert_drafts, is_active, status_is
from .run_rows import after_end, as_dt
from .schema import executions, jobs
from .sql_workers import connected_agents

REAP_BATCH = 1000

_JOB_TICKED = DriverMany(
    update(jobs)
    .where(jobs.c.id == bindparam("j"))
    .values(
        next_run_at=bindparam("nra", type_=jobs.c.next_run_at.type),
        status=bindparam("st"),
        retry_count=bindparam("rc"),
        last_run_at=bindparam("lra", type_=jobs.c.last_run_at.type),
        skip_next=bindparam("sk"),
        paused_until=bindparam("pu", type_=jobs.c.paused_until.type),
    ),
    ("j", "nra", "st", "rc", "lra", "sk", "pu"),
)


def _ticked(job_id: int, out: lifecycle.TickOutcome) -> tuple[Any, ...]:
    return (job_id, ms_or_none(out.next_run_at), out.status.value, out.retry_count,
            ms_or_none(out.last_run_at), out.skip_next, ms_or_none(out.paused_until))


# compare-and-swap: a run that changed since it was read is left alone
_EXPIRED = (
    update(executions)
    .where(executions.c.id == bindparam("i"), executions.c.status == bindparam("old"))
    .values(status=RunStatus.EXPIRED.value,
            end_time=bindparam("e", type_=executions.c.end_time.type),
            error=bindparam("er"))
)


_LIVE_DEADLINES = ((RunStatus.PENDING, executions.c.pickup_deadline),
                   (RunStatus.RUNNING, executions.c.run_deadline))
_EARLIEST: dict[tuple[RunStatus, bool], Any] = {}
_OVERDUE: dict[bool, Any] = {}


def _overdue_statement(
    held: bool, skip: Collection[int] = (), only: Sequence[int] | None = None
) -> Any:
    """``ScheduleSql._overdue``'s statement, its values bound (``:now``, ``:hb`` when
    ``held``, ``:limit``); ``skip`` and ``only`` (ids) are written into it."""
    parts = []
    for status, deadline in _LIVE_DEADLINES:
        q = select(executions.c.id).where(
            executions.c.status == status_is(status),
            deadline <= bindparam("now", type_=deadline.type))
        if held:
            q = q.where(deadline >= bindparam("hb", type_=deadline.type))
        if skip:
            q = q.where(executions.c.id.not_in(list(skip)))
        if only is not None:
            q = q.where(executions.c.id.in_(list(only)))
        parts.append(q)
    return union_all(*parts).limit(bindparam("limit"))


_DUE: WeakKeyDictionary[Database, Prepared] = WeakKeyDictionary()


def _due(db: Database) -> Prepared:
    """The due unpaused jobs (``:now``, ``:limit``), oldest first, as ``rows.JOB_FIELDS``:
    built once per database, a driver statement on SQLite (locked, skipping locked rows,
    on PostgreSQL)."""
    got = _DUE.get(db)
    if got is None:
        q = _due_query()
        got = _DUE[db] = Prepared(q, db.skip_locked(q))
    return got


def _due_query(skip: Collection[int] = ()) -> Any:
    """``_due``'s query; ``skip`` (job ids set aside by the ticker) written into it."""
    q = (select(*rows.JOB_FIELDS)
         .where(jobs.c.next_run_at <= bindparam("now", type_=jobs.c.next_run_at.type),
                jobs.c.paused.is_(False))
         .order_by(jobs.c.next_run_at)
         .limit(bindparam("limit")))
    return q.where(jobs.c.id.not_in(list(skip))) if skip else q


def _readable_job(r: Any) -> Job:
    """The due job of row ``r``; ``UnreadableRow`` (naming its id, so that the ticker sets it
    aside) when this version cannot read it."""
    try:
        return rows.ordered_job(r)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UnreadableRow("jobs", int(r.id), exc) from exc


class ScheduleSql:
    db: Database

    async def earliest_next_run_at(self, skip: Collection[int] = ()) -> datetime | None:
        q = select(func.min(jobs.c.next_run_at)).where(jobs.c.next_run_at.is_not(None))
        if skip:
            q = q.where(jobs.c.id.not_in(list(skip)))
        async with self.db.read() as c:
            v = (await c.execute(q)).scalar_one_or_none()
        return as_dt(v)

    async def tick(
        self, now: datetime, limit: int, planner: Planner, skip: Collection[int] = ()
    ) -> TickResult:
        async with self.db.write() as c:
            params = {"now": now, "limit": limit}
            if skip:
                found: Any = await c.execute(self.db.skip_locked(_due_query(skip)), params)
            else:
                found = await _due(self.db).all(c, params)
            due = [_readable_job(r) for r in found]
            if not due:
                return TickResult(jobs=0, created=[])
            live = await self._live_runs(c, [j.id for j in due if overlap.counts_live_runs(j)])
            fanned = [j for j in due if targets.fans_out(j.target)]
            fanned_ids = {j.id for j in fanned}
            agents = await connected_agents(c, {j.environment_id for j in fanned},
                                            now - targets.CONNECTED_WITHIN)
            per_host = await self._live_runs_by_host(c, [j.id for j in fanned])
            drafts: list[RunDraft] = []
            outcomes: list[lifecycle.TickOutcome] = []
            for job in due:
                n, held = live.get(job.id, (0, 0))
                lanes = targets.lanes(job.target, agents.get(job.environment_id, ()))
                by_host = per_host.get(job.id, {}) if job.id in fanned_ids else None
                outcomes.append(lifecycle.tick_runs(job, planner(job), now, n > 0,
                                                    Slots(active=n, held=held > 0), lanes,
                                                    by_host))
                drafts.extend(outcomes[-1].runs)
            # multi-row INSERTs compiled once, at the driver (run_insert.insert_drafts);
            # conflicting rows (a tick made before) return nothing
            created = await insert_drafts(self.db, c, drafts)
            made: dict[int, list[Run]] = {}
            for e in created:
                made.setdefault(e.job_id, []).append(e)
            await _JOB_TICKED.run(self.db, c, [
                _ticked(job.id, lifecycle.tick_written(job, out, made.get(job.id, ())))
                for job, out in zip(due, outcomes, strict=True)])
            cancelled = await self._cancel_others(c, due, created, now)
            return TickResult(jobs=len(due), created=created, cancelled=cancelled)

    async def _cancel_others(
        self, c: Conn, due: Sequence[Job], created: Sequence[Run], now: datetime
    ) -> list[Run]:
        """overlap=cancel_other: a job's new pending run of this tick ends its other runs
        still pending or running (cancelled, as on request: no retry, no alert); for a job
        with target mode "all", only those on the hosts of its new runs."""
        ids = overlap.cancelling(due, created)
        if not ids:
            return []
        res = await c.execute(self.db.for_update(
            select(executions).where(executions.c.job_id.in_(ids),
                                     is_active())
            .order_by(executions.c.id)))
        live = [rows.execution(x) for x in res]
        ended = [lifecycle.cancel(r, now, overlap.CANCELLED_BY_TICK)
                 for r in overlap.cancelled_by_tick(due, created, live)]
        for e in ended:
            await c.execute(update(executions).where(executions.c.id == e.id).values(
                status=e.status.value, end_time=e.end_time, duration=e.duration,
                error=e.error))
        if ended:
            await after_end(self.db, c, ended, now)
        return ended

    @staticmethod
    async def _live_runs_by_host(
        c: Conn, job_ids: list[int]
    ) -> dict[int, dict[str | None, Slots]]:
        """For jobs with target mode "all": their live runs as overlap slots, by host."""
        if not job_ids:
            return {}
        res = await c.execute(
            select(executions.c.job_id, executions.c.target_host, func.count(),
                   func.count().filter(executions.c.due_at >= HELD))
            .where(executions.c.job_id.in_(job_ids), is_active())
            .group_by(executions.c.job_id, executions.c.target_host)
        )
        out: dict[int, dict[str | None, Slots]] = {}
        for job_id, host, n, held in res:
            out.setdefault(job_id, {})[host] = Slots(active=int(n), held=int(held) > 0)
        return out

    @staticmethod
    async def _live_runs(c: Conn, job_ids: list[int]) -> dict[int, tuple[int, int]]:
        """For these jobs (those an overlap policy limits): how many runs are pending or
        running, and how many of them are buffered (held, overlap=buffer_one)."""
        if not job_ids:
            return {}
        res = await c.execute(
            select(executions.c.job_id, func.count(),
                   func.count().filter(executions.c.due_at >= HELD))
            .where(executions.c.job_id.in_(job_ids), is_active())
            .group_by(executions.c.job_id)
        )
        return {r[0]: (int(r[1]), int(r[2])) for r in res}

    @staticmethod
    def _overdue(
        now: datetime, held_before: datetime | None, skip: Collection[int], limit: int,
        only: Sequence[int] | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Ids of live executions past a deadline (``held_before``: deadlines earlier than
        it are left alone; ``skip``: ids set aside; ``only``: just these): the statement and
        its parameters (built once without ``skip`` and ``only``: the reaper's every pass)."""
        params = {"now": now, "hb": held_before, "limit": limit}
        held = held_before is not None
        if skip or only is not None:
            return _overdue_statement(held, skip, only), params
        stmt = _OVERDUE.get(held)
        if stmt is None:
            stmt = _OVERDUE[held] = _overdue_statement(held)
        return stmt, params

    async def overdue_ids(
        self,
        now: datetime,
        *,
        held_before: datetime | None = None,
        skip: Collection[int] = (),
        limit: int = REAP_BATCH,
    ) -> list[int]:
        stmt, params = self._overdue(now, held_before, skip, limit)
        async with self.db.read() as c:
            return [r[0] for r in await c.execute(stmt, params)]

    async def expire_overdue(
        self,
        now: datetime,
        *,
        held_before: datetime | None = None,
        skip: Collection[int] = (),
        only: Sequence[int] | None = None,
    ) -> list[Run]:
        stmt, params = self._overdue(now, held_before, skip, REAP_BATCH, only)
        async with self.db.write() as c:
            ids = [r[0] for r in await c.execute(stmt, params)]
            if not ids:
                return []
            q = select(executions).where(executions.c.id.in_(ids)).order_by(executions.c.id)
            live = [e for e in map(rows.execution, await c.execute(self.db.for_update(q)))
                    if not e.status.terminal]
            if not live:
                return []
            expired = [lifecycle.expire(e, now) for e in live]
            await c.execute(_EXPIRED, [
                {"i": e.id, "old": old.status.value, "e": e.end_time, "er": e.error}
                for old, e in zip(live, expired, strict=True)
            ])
            await after_end(self.db, c, expired, now)
            return expired

    async def earliest_deadline(
        self, not_before: datetime | None = None, skip: Collection[int] = ()
    ) -> datetime | None:
        found: list[Any] = []
        async with self.db.read() as c:
            for status, deadline in _LIVE_DEADLINES:
                if skip:
                    q = select(func.min(deadline)).where(executions.c.status == status.value)
                    if not_before is not None:
                        q = q.where(deadline >= not_before)
                    q = q.where(executions.c.id.not_in(list(skip)))
                    found.append((await c.execute(q)).scalar_one_or_none())
                    continue
                key = (status, not_before is not None)
                built = _EARLIEST.get(key)
                if built is None:  # built once (the reaper asks after every claim)
                    built = select(func.min(deadline)).where(
                        executions.c.status == status_is(status))
                    if not_before is not None:
                        built = built.where(deadline >= bindparam("nb", type_=deadline.type))
                    _EARLIEST[key] = built
                found.append((await c.execute(built, {"nb": not_before})).scalar_one_or_none())
        vals = [v for v in (as_dt(found[0]), as_dt(found[1])) if v is not None]
        return min(vals) if vals else None
