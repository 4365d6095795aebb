"""Retention: old executions and notifications deleted in small steps (contract:
contracts.RetentionStore).

Why steps over primary-key windows: there is no index on ``created_at``, and a single
``DELETE … WHERE created_at < ?`` would scan the whole table inside the write transaction,
holding SQLite's one write lock (and the ticker) for as long as that takes. Instead each step
reads the next ``limit`` ids (a primary-key range read, outside any write transaction), then
deletes the eligible rows of that window in one short write transaction. Ids grow with
creation time, so the old rows are the low ids and a pass stops at the first window that is
entirely recent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, not_, or_, select, true

from ..domain.model import RunStatus
from .contracts import PruneBatch
from .db import Database
from .schema import execution_causes, executions, notification_deliveries, notifications

LIVE = [RunStatus.PENDING.value, RunStatus.RUNNING.value]
SKIPPED = RunStatus.SKIPPED.value

e_ = executions.c
n_ = notifications.c
d_ = notification_deliveries.c


def _execution_prunable(before: datetime) -> Any:
    """Old, ended, and neither the job's latest execution nor its latest non-skipped one:
    a later non-skipped execution exists, or (for a skipped one) any later execution."""
    later = executions.alias()
    later_any = exists().where(later.c.job_id == e_.job_id, later.c.id > e_.id)
    later_run = exists().where(
        later.c.job_id == e_.job_id, later.c.id > e_.id, later.c.status != SKIPPED
    )
    return and_(
        e_.created_at < before,
        e_.status.not_in(LIVE),
        or_(later_run, and_(e_.status == SKIPPED, later_any)),
    )


def _notification_prunable(before: datetime) -> Any:
    pending = exists().where(d_.notification_id == n_.id, d_.status == "pending")
    return and_(n_.created_at < before, n_.fanned_out == true(), not_(pending))


class RetentionSql:
    db: Database

    async def _window(self, table: Any, after_id: int, limit: int) -> list[Any]:
        async with self.db.read() as c:
            res = await c.execute(
                select(table.c.id, table.c.created_at)
                .where(table.c.id > after_id)
                .order_by(table.c.id)
                .limit(limit)
            )
            return list(res)

    async def prune_executions(self, before: datetime, after_id: int, limit: int) -> PruneBatch:
        window = await self._window(executions, after_id, limit)
        if not window:
            return PruneBatch(deleted=0, next_after_id=after_id, done=True)
        upto = window[-1].id
        old = sum(1 for r in window if r.created_at < before)
        done = len(window) < limit or old == 0
        if old == 0:
            return PruneBatch(deleted=0, next_after_id=upto, done=done)
        async with self.db.write() as c:
            pick = self.db.skip_locked(
                select(e_.id).where(e_.id > after_id, e_.id <= upto, _execution_prunable(before))
            )
            ids = [r[0] for r in await c.execute(pick)]
            if ids:
                gone = execution_causes.c
                await c.execute(delete(execution_causes).where(
                    gone.execution_id.in_(ids) | gone.cause_id.in_(ids)))
                await c.execute(delete(executions).where(e_.id.in_(ids)))
        return PruneBatch(deleted=len(ids), next_after_id=upto, done=done)

    async def prune_notifications(
        self, before: datetime, after_id: int, limit: int
    ) -> PruneBatch:
        window = await self._window(notifications, after_id, limit)
        if not window:
            return PruneBatch(deleted=0, next_after_id=after_id, done=True)
        upto = window[-1].id
        old = sum(1 for r in window if r.created_at < before)
        done = len(window) < limit or old == 0
        if old == 0:
            return PruneBatch(deleted=0, next_after_id=upto, done=done)
        async with self.db.write() as c:
            pick = self.db.skip_locked(
                select(n_.id).where(
                    n_.id > after_id, n_.id <= upto, _notification_prunable(before)
                )
            )
            ids = [r[0] for r in await c.execute(pick)]
            if ids:
                # the foreign key cascades too; deleting explicitly does not depend on it
                await c.execute(
                    delete(notification_deliveries).where(d_.notification_id.in_(ids))
                )
                await c.execute(delete(notifications).where(n_.id.in_(ids)))
        return PruneBatch(deleted=len(ids), next_after_id=upto, done=done)

