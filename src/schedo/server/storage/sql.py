"""``SqlStore``: the one implementation of contracts.Store, on SQLAlchemy Core."""

from __future__ import annotations

from sqlalchemy import text

from .db import Database
from .sql_jobs import JobSql
from .sql_notify import NotifySql
from .sql_retention import RetentionSql
from .sql_runs import RunSql
from .sql_stats import StatsSql
from .sql_tenants import TenantSql
from .sql_workers import WorkerSql


class SqlStore(TenantSql, JobSql, RunSql, WorkerSql, NotifySql, RetentionSql, StatsSql):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ping(self) -> None:
        async with self.db.read() as c:
            await c.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.db.dispose()
