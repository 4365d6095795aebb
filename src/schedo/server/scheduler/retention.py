"""Retention: deletes executions, notifications and audit events older than
``SCHEDO_RETENTION_DAYS``.

A pass walks each table in primary-key windows of ``SCHEDO_RETENTION_BATCH_SIZE`` rows (500)
and deletes the eligible rows of a window in one short write transaction, sleeping
``pause`` seconds between windows, so the ticker, claims and completions get the database
between them (on SQLite they share one write connection). What is never deleted: pending
and running runs, the latest execution of each job and its latest non-skipped one (see
``contracts.RetentionStore``). Passes run at start-up (after ``first_delay``) and then every
``SCHEDO_RETENTION_INTERVAL_SECONDS`` (an hour). ``SCHEDO_RETENTION_DAYS=0`` keeps everything.
With several processes on PostgreSQL each one prunes; the windows are locked with SKIP
LOCKED, so they share the work instead of colliding.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..runtime.loop import run_loop
from ..services import retention
from ..services.context import Services
from ..services.retention import PruneBatch

log = logging.getLogger("schedo.retention")

Step = Callable[[Services, datetime, int, int], Awaitable[PruneBatch]]


@dataclass(frozen=True, slots=True)
class PruneResult:
    executions: int
    notifications: int
    audit: int = 0


class Retention:
    def __init__(self, svc: Services, *, pause: float = 0.02, first_delay: float = 60.0) -> None:
        self.svc = svc
        self.days = svc.settings.retention_days
        self.batch = svc.settings.retention_batch_size
        self.interval = svc.settings.retention_interval_seconds
        self.pause = pause
        self.first_delay = first_delay

    async def _prune(self, step: Step, before: datetime) -> int:
        deleted, after = 0, 0
        while True:
            res = await step(self.svc, before, after, self.batch)
            deleted += res.deleted
            after = res.next_after_id
            if res.done:
                return deleted
            # let the ticker and the API have the (single, on SQLite) write connection
            await asyncio.sleep(self.pause)

    async def prune_once(self, now: datetime) -> PruneResult:
        """One full pass: everything created before ``now - retention_days``."""
        if self.days <= 0:
            return PruneResult(0, 0)
        before = now - timedelta(days=self.days)
        ex = await self._prune(retention.prune_executions, before)
        no = await self._prune(retention.prune_notifications, before)
        au = await self._prune(retention.prune_audit, before)
        await retention.prune_people(self.svc, now)
        if ex or no or au:
            log.info("retention.pruned executions=%d notifications=%d audit=%d before=%s",
                     ex, no, au, before.isoformat())
        return PruneResult(ex, no, au)

    async def step(self) -> float:
        await self.prune_once(self.svc.clock.now())
        return self.interval

    async def run(self) -> None:
        if self.days <= 0:
            log.info("retention.disabled")
            return
        await asyncio.sleep(self.first_delay)
        # a failed pass is tried again at the next interval, not after a second
        await run_loop(self.step, None, max_idle=self.interval, name="retention.error",
                       log=log, retry_after=self.interval)
