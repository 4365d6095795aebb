"""The dashboard's reads (``contracts.DashboardStore``): counts the pages show that no
use-case method returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from .contracts.ops import RunMark
from .db import Database
from .schema import executions


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
            select(e.id, e.job_id, e.status, e.scheduled_for, e.attempt, rank)
            .where(e.environment_id == env_id, e.job_id.in_(ids))
            .subquery()
        )
        r = ranked.c
        q = (
            select(r.id, r.job_id, r.status, r.scheduled_for, r.attempt)
            .where(r.rank <= per_job)
            .order_by(r.job_id, r.id)
        )
        out: dict[int, list[RunMark]] = {}
        async with self.db.read() as c:
            for row in (await c.execute(q)).all():
                mark = RunMark(
                    id=int(row.id), job_id=int(row.job_id), status=str(row.status),
                    scheduled_for=row.scheduled_for, attempt=int(row.attempt),
                )  # fmt: skip
                out.setdefault(mark.job_id, []).append(mark)
        return out
