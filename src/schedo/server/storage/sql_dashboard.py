"""The dashboard's reads (``contracts.DashboardStore``): counts the pages show that no
use-case method returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, case, func, or_, select, type_coerce

from ..domain.records import Run
from . import rows
from .contracts.ops import Attention, DayCount, RunMark
from .db import Database
from .schema import executions, jobs

DAY_MS = 86_400_000


def _latest_duration() -> Any:
    """The duration of the job's latest execution that has one (a correlated subquery,
    served by ``ix_executions_job_id_id``)."""
    e = executions.c
    return (
        select(e.duration)
        .where(e.job_id == jobs.c.id, e.duration.is_not(None))
        .order_by(e.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _status_rank() -> Any:
    j = jobs.c
    return case(
        (j.status == "failed", 0),
        (and_(j.status == "pending", j.retry_count > 0), 0),
        (j.status == "running", 1),
        (j.status == "pending", 2),
        (j.status == "completed", 3),
        else_=4,
    )


def _sort_key(sort: str) -> Any:
    j = jobs.c
    return {
        "name": j.name,
        "status": _status_rank(),
        "last_run": j.last_run_at,
        "next_run": j.next_run_at,
        "duration": _latest_duration(),
    }.get(sort)


class DashboardSql:
    db: Database

    async def count_runs_since(self, env_id: int, since: datetime) -> dict[str, int]:
        q = (
            select(executions.c.status, func.count())
            .where(executions.c.environment_id == env_id, executions.c.scheduled_for >= since)
            .group_by(executions.c.status)
        )
        async with self.db.read() as c:
            return {str(s): int(n) for s, n in (await c.execute(q)).all()}

    async def recent_runs(
        self, env_id: int, job_ids: Sequence[int], per_job: int
    ) -> dict[int, list[RunMark]]:
        ids = sorted(set(job_ids))
        if not ids or per_job < 1:
            return {}
        e = executions.c
        rank = func.row_number().over(partition_by=e.job_id, order_by=e.id.desc()).label("rank")
        ranked = (
            select(e.id, e.job_id, e.status, e.scheduled_for, e.attempt, e.duration, rank)
            .where(e.environment_id == env_id, e.job_id.in_(ids))
            .subquery()
        )
        r = ranked.c
        q = (
            select(r.id, r.job_id, r.status, r.scheduled_for, r.attempt, r.duration)
            .where(r.rank <= per_job)
            .order_by(r.job_id, r.id)
        )
        out: dict[int, list[RunMark]] = {}
        async with self.db.read() as c:
            for row in (await c.execute(q)).all():
                mark = RunMark(
                    id=int(row.id), job_id=int(row.job_id), status=str(row.status),
                    scheduled_for=row.scheduled_for, attempt=int(row.attempt),
                    duration=None if row.duration is None else int(row.duration),
                )  # fmt: skip
                out.setdefault(mark.job_id, []).append(mark)
        return out

    async def job_order(self, env_id: int, sort: str, descending: bool) -> list[int]:
        j = jobs.c
        key = _sort_key(sort)
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
            .where(e.environment_id == env_id, e.job_id == job_id, e.scheduled_for >= since)
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
            .where(e.environment_id == env_id, e.job_id == job_id,
                   e.scheduled_for >= start, e.scheduled_for < end)
            .order_by(e.scheduled_for.desc(), e.id.desc())
            .limit(limit)
        )
        async with self.db.read() as c:
            return [rows.execution(r) for r in (await c.execute(q)).all()]

    async def needs_attention(
        self, env_id: int, late_before: datetime, since: datetime, limit: int
    ) -> list[Attention]:
        if limit < 1:
            return []
        e = executions.c
        late = and_(e.status == "pending", e.due_at < late_before)
        missed = and_(
            e.scheduled_for >= since,
            or_(e.status == "expired", and_(e.status == "skipped", e.error.like("missed%"))),
        )
        q = (
            select(e.id, e.job_id, jobs.c.name, e.status, e.scheduled_for, e.due_at, e.error)
            .join(jobs, jobs.c.id == e.job_id)
            .where(e.environment_id == env_id, or_(late, missed))
            .order_by(e.scheduled_for.desc(), e.id.desc())
            .limit(limit)
        )
        async with self.db.read() as c:
            return [
                Attention(id=int(r.id), job_id=int(r.job_id), job_name=str(r.name),
                          status=str(r.status), scheduled_for=r.scheduled_for, due_at=r.due_at,
                          error=r.error)
                for r in (await c.execute(q)).all()
            ]
