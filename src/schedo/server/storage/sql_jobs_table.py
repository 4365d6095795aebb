"""The jobs table's reads (``contracts.DashboardStore``: ``job_counts``, ``job_page``,
``job_targets``, ``job_namings``, ``retrying_jobs``): its filters, sort and page in SQL, so a
page of 50 reads 50 job rows however many jobs the environment has.

A job's target tags live in its JSON ``target`` column: the tag filter reads the few targets
(``job_targets``: only command jobs have one) and passes the matching ids, rather than a JSON
query that differs between the dialects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, false, func, not_, or_, select, true

from ..domain.records import Job
from . import rows
from .contracts.ops import JOB_SORTS, JobFilter, JobNaming
from .db import Database
from .schema import executions, jobs

FLAGS = {"paused": ("paused", True), "active": ("paused", False), "muted": ("muted", True)}


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


def sort_key(sort: str) -> Any:
    j = jobs.c
    return {
        "name": j.name,
        "status": _status_rank(),
        "last_run": j.last_run_at,
        "next_run": j.next_run_at,
        "duration": _latest_duration(),
    }.get(sort)


class JobsTableSql:
    db: Database

    def _selects(self, flt: JobFilter) -> list[Any]:
        """The conditions of ``flt`` (none: every job of the environment)."""
        j = jobs.c
        out: list[Any] = []
        if flt.ids is not None:
            out.append(self.db.among(j.id, flt.ids) if flt.ids else false())
        if flt.kind:
            out.append(j.type == flt.kind)
        status = flt.status
        if status in FLAGS:
            column, value = FLAGS[status]
            out.append(j[column] == (true() if value else false()))
        elif status == "failed":
            out.append(or_(j.status == "failed", self.db.among(j.id, flt.waiting))
                       if flt.waiting else j.status == "failed")
        elif status == "pending":
            out.append(and_(j.status == "pending", not_(self.db.among(j.id, flt.waiting)))
                       if flt.waiting else j.status == "pending")
        elif status in ("completed", "running"):
            out.append(j.status == status)
        return out

    async def job_counts(self, env_id: int, flt: JobFilter) -> tuple[int, int]:
        picked = self._selects(flt)
        matched: Any = func.count()
        if picked:
            matched = func.coalesce(func.sum(case((and_(*picked), 1), else_=0)), 0)
        q = select(func.count(), matched).where(jobs.c.environment_id == env_id)
        async with self.db.read() as c:
            total, found = (await c.execute(q)).one()
        return int(total), int(found)

    async def job_page(
        self, env_id: int, flt: JobFilter, sort: str, descending: bool, offset: int, limit: int
    ) -> list[Job]:
        if limit < 1:
            return []
        j = jobs.c
        order: list[Any] = [j.id]
        if sort in JOB_SORTS:
            key = sort_key(sort)
            order = [key.is_(None), key.desc() if descending else key.asc(), j.name, j.id]
        q = (select(jobs).where(j.environment_id == env_id, *self._selects(flt))
             .order_by(*order).offset(max(offset, 0)).limit(limit))
        async with self.db.read() as c:
            return [rows.job(r) for r in (await c.execute(q)).all()]

    async def job_targets(self, env_id: int) -> dict[int, dict[str, Any]]:
        j = jobs.c
        q = select(j.id, j.target).where(j.environment_id == env_id, j.target.is_not(None))
        async with self.db.read() as c:
            return {int(i): t for i, t in (await c.execute(q)).all() if isinstance(t, dict)}

    async def job_namings(self, env_id: int) -> list[JobNaming]:
        j = jobs.c
        q = select(j.id, j.name, j.webhook_url).where(j.environment_id == env_id).order_by(j.id)
        async with self.db.read() as c:
            return [JobNaming(id=int(i), name=str(n), webhook_url=u)
                    for i, n, u in (await c.execute(q)).all()]

    async def retrying_jobs(self, env_id: int) -> list[Job]:
        j = jobs.c
        q = (select(jobs).where(j.environment_id == env_id, j.status == "pending",
                                j.retry_count > 0).order_by(j.id))
        async with self.db.read() as c:
            return [rows.job(r) for r in (await c.execute(q)).all()]
