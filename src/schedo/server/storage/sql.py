"""``SqlStore``: the one implementation of contracts.Store, on SQLAlchemy Core."""

from __future__ import annotations

import contextlib
import time

from sqlalchemy import text

from .db import Database
from .schema import server_meta
from .sql_jobs import JobSql
from .sql_notify import NotifySql
from .sql_retention import RetentionSql
from .sql_runs import RunSql
from .sql_stats import StatsSql
from .sql_tenants import TenantSql
from .sql_workers import WorkerSql

PROBE_EVERY = 5.0  # seconds between two write probes of /readyz
PROBE_KEY = "readyz_probe"


class SqlStore(TenantSql, JobSql, RunSql, WorkerSql, NotifySql, RetentionSql, StatsSql):
    def __init__(self, db: Database) -> None:
        self.db = db
        self._probed = -PROBE_EVERY

    async def ping(self) -> None:
        async with self.db.read() as c:
            await c.execute(text("SELECT 1"))

    async def write_failure(self) -> str | None:
        now = time.monotonic()
        if now - self._probed >= PROBE_EVERY:
            self._probed = now
            with contextlib.suppress(Exception):  # the failure is what we are looking for
                stmt = self.db.insert(server_meta)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["key"], set_={"value": stmt.excluded.value}
                )
                # a real page write, so a full disk or a read-only file shows
                async with self.db.write() as c:
                    await c.execute(stmt, {"key": PROBE_KEY, "value": str(time.time())})
        return self.db.write_failure

    async def close(self) -> None:
        await self.db.dispose()
