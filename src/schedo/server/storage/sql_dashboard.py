"""The dashboard's reads (``contracts.DashboardStore``): counts the pages show that no
use-case method returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    and_,
    case,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)

from ..domain.model import Source
from ..domain.records import Run
from . import rows
from .contracts.ops import Attention, DayCount, JobsAtGlance, RunMark
from .db import Database
from .schema import executions, jobs
from .sql_jobs_table import JobsTableSql, sort_key

DAY_MS = 86_400_000
# Every source a run can have: ``source IN (all of them)`` changes no answer, and lets a read
# of one job's runs since an instant search the tick key ``(job_id, source, scheduled_for,
# …)`` (uq_executions_tick) instead of walking all of the job's runs through (job_id, id).
SOURCES = tuple(s.value for s in Source)
# Statuses as SQL literals, not bound parameters: SQLite uses a partial index only when the
# query's WHERE repeats the index's own condition, which a parameter cannot show at prepare.
PENDING: Any = literal_column("'pending'")
MISSED_STATUSES: tuple[Any, ...] = (literal_column("'expired'"), literal_column("'skipped'"))


class DashboardSql(JobsTableSql):
    db: Database

    async def count_runs_since(self, env_id: int, since: datetime) -> dict[str, int]:
        q = (
            select(executions.c.status, func.count())
            .where(executions.c.environment_id == env_id, executions.c.scheduled_for >= since)
            .group_by(executions.c.status)
        )
        async with self.db.read() as c:
            return {str(s): int(n) for s, n in (await c.execute(q)).all()}

    async def jobs_at_glance(self, env_id: int, due: int, shown: int) -> JobsAtGlance:
        j = jobs.c
        mine = j.environment_id == env_id
        counts = select(func.count(), func.coalesce(func.sum(case((j.paused == true(), 1),
                                                                  else_=0)), 0)).where(mine)
        failing = select(jobs).where(mine, or_(j.status == "failed", and_(
            j.status == "pending", j.retry_count > 0))).order_by(j.id)
        soonest = (select(jobs).where(mine, j.paused == false(), j.next_run_at.is_not(None))
                   .order_by(j.next_run_at, j.id).limit(due))
        reasoned = (select(jobs).where(mine, j.paused == true(), j.paused_reason.is_not(None),
                                       j.paused_reason != "").order_by(j.id).limit(shown))
        muted = select(jobs).where(mine, j.muted == true()).order_by(j.id).limit(shown)
        async with self.db.read() as c:
            total, paused = (await c.execute(counts)).one()
            found = [[rows.job(r) for r in (await c.execute(q)).all()]
                     for q in (failing, soonest, reasoned, muted)]
        return JobsAtGlance(total=int(total), paused=int(paused), failing=found[0],
                            next_due=found[1], auto_paused=found[2], muted=found[3])

    async def recent_runs(
        self, env_id: int, job_ids: Sequence[int], per_job: int
    ) -> dict[int, list[RunMark]]:
        """A top-N per job: the latest ``per_job`` runs of each job through
        ``ix_executions_job_id_id``, read backwards (``Database.top_per``): the cost is the
        rows shown, whatever the history's length."""
        ids = sorted(set(job_ids))
        if not ids or per_job < 1:
            return {}
        a = executions.alias("latest")
        pick = (
            select(a.c.id, a.c.job_id, a.c.status, a.c.scheduled_for, a.c.attempt,
                   a.c.duration)
            .where(a.c.job_id == jobs.c.id, a.c.environment_id == env_id)
            .order_by(a.c.id.desc())
            .limit(per_job)
        )
        joined, r = self.db.top_per(jobs, executions, pick)
        q = (
            select(r.c.id, r.c.job_id, r.c.status, r.c.scheduled_for, r.c.attempt, r.c.duration)
            .select_from(joined)
            .where(jobs.c.environment_id == env_id, self.db.among(jobs.c.id, ids))
            .order_by(r.c.job_id, r.c.id)
        )
        out: dict[int, list[RunMark]] = {}
        async with self.db.read() as c:
            found = (await c.execute(q)).all()
        # ~10,000 marks for a table of 500 jobs: rows unpacked, no attribute look-ups
        for run_id, job_id, status, scheduled_for, attempt, duration in found:
            out.setdefault(job_id, []).append(RunMark(
                id=int(run_id), job_id=int(job_id), status=str(status),
                scheduled_for=scheduled_for, attempt=int(attempt),
                duration=None if duration is None else int(duration)))  # fmt: skip
        return out

    async def job_order(self, env_id: int, sort: str, descending: bool) -> list[int]:
        j = jobs.c
        key = sort_key(sort)
        order: list[Any] = []
        if key is not None:
            order = [key.is_(None), key.desc() if descending else key.asc()]
        q = select(j.id).where(j.environment_id == env_id).order_by(*order, j.name, j.id)
        async with self.db.read() as c:
            return [int(i) for i in (await c.execute(q)).scalars()]

    async def run_days(self, env_id: int, job_id: int, since: datetime) -> list[DayCount]:
        e = executions.c
        day = (type_coerce(e.scheduled_for, BigInteger) // DAY_MS).label("day")
        q = (
            select(day, e.status, func.count())
            .where(e.environment_id == env_id, e.job_id == job_id, e.source.in_(SOURCES),
                   e.scheduled_for >= since)
            .group_by(day, e.status)
            .order_by(day, e.status)
        )
        async with self.db.read() as c:
            return [DayCount(day=int(d), status=str(s), count=int(n))
                    for d, s, n in (await c.execute(q)).all()]  # fmt: skip

    async def runs_between(
        self, env_id: int, job_id: int, start: datetime, end: datetime, limit: int
    ) -> list[Run]:
        if limit < 1:
            return []
        e = executions.c
        q = (
            select(executions)
            .where(e.environment_id == env_id, e.job_id == job_id, e.source.in_(SOURCES),
                   e.scheduled_for >= start, e.scheduled_for < end)
            .order_by(e.scheduled_for.desc(), e.id.desc())
            .limit(limit)
        )
        async with self.db.read() as c:
            return [rows.execution(r) for r in (await c.execute(q)).all()]

    async def needs_attention(
        self, env_id: int, late_before: datetime, since: datetime, limit: int
    ) -> list[Attention]:
        """Two index reads merged: the late pending runs (``ix_executions_pending``, the
        environment's pending runs only) and the runs expired or missed since ``since``
        (``ix_executions_missed``, a range of a partial index); each newest first and
        limited to ``limit``, merged newest first (so many late runs never hide a missed one)."""
        if limit < 1:
            return []
        e = executions.c
        # a heartbeat run waits for a ping until its grace ends (then it expires, "missed"):
        # nothing is to take it, so its waiting is not lateness
        late = and_(e.status == PENDING, e.due_at < late_before, jobs.c.type != "heartbeat")
        missed = and_(
            e.status.in_(MISSED_STATUSES),
            e.scheduled_for >= since,
            or_(e.status == "expired", e.error.like("missed%")),
        )
        found: list[Attention] = []
        async with self.db.read() as c:
            for cond in (late, missed):
                q = (
                    select(e.id, e.job_id, jobs.c.name, e.status, e.scheduled_for, e.due_at,
                           e.error)
                    .join(jobs, jobs.c.id == e.job_id)
                    .where(e.environment_id == env_id, jobs.c.environment_id == env_id, cond)
                    .order_by(e.scheduled_for.desc(), e.id.desc())
                    .limit(limit)
                )
                found += [
                    Attention(id=int(r.id), job_id=int(r.job_id), job_name=str(r.name),
                              status=str(r.status), scheduled_for=r.scheduled_for,
                              due_at=r.due_at, error=r.error)
                    for r in (await c.execute(q)).all()
                ]
        found.sort(key=lambda a: (a.scheduled_for, a.id), reverse=True)
        return found
