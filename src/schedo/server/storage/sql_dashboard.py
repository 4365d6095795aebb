"""The dashboard's reads (``contracts.DashboardStore``): counts the pages show that no
use-case method returns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

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
