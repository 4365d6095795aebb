"""The records ``domain/explain.py`` reads (contract: contracts.ExplainStore)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from ..domain.model import Source
from ..domain.records import Run
from . import rows
from .db import Database
from .run_rows import as_dt, job_in_env
from .schema import executions

e_ = executions.c


class ExplainSql:
    db: Database

    async def runs_from(self, env_id: int, job_id: int, at: datetime, limit: int = 20
                        ) -> tuple[list[Run], datetime | None]:
        async with self.db.read() as c:
            await job_in_env(c, env_id, job_id)
            res = await c.execute(
                select(executions)
                .where(e_.job_id == job_id, e_.source == Source.SCHEDULE.value,
                       e_.scheduled_for >= at)
                .order_by(e_.scheduled_for, e_.attempt, e_.id)
                .limit(limit))
            found = [rows.execution(r) for r in res]
            oldest = (await c.execute(select(func.min(e_.scheduled_for))
                                      .where(e_.job_id == job_id))).scalar_one_or_none()
        return found, as_dt(oldest)
