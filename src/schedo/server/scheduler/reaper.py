"""The reaper: expires runs past their pick-up or run deadline and schedules their retries.

Sleeps until the nearest deadline; wakes early when a new run may bring a nearer one.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from ..domain.records import Execution
from ..services.context import Services

log = logging.getLogger("schedo.reaper")
MAX_IDLE = 30.0


class Reaper:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def reap_once(self, now: datetime) -> list[Execution]:
        expired: list[Execution] = []
        while True:
            batch = await self.svc.store.expire_overdue(now)
            expired.extend(batch)
            if not batch:
                break
        if expired:
            log.info("runs.expired count=%d", len(expired))
            self.svc.bus.runs_ready.notify()  # retries may have been created
        return expired

    async def run(self) -> None:
        clock, bus = self.svc.clock, self.svc.bus
        while True:
            seen = bus.deadlines_changed.version
            try:
                await self.reap_once(clock.now())
                nearest = await self.svc.store.earliest_deadline()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reaper.error")
                await asyncio.sleep(1.0)
                continue
            timeout = MAX_IDLE
            if nearest is not None:
                timeout = min(MAX_IDLE, max(0.0, (nearest - clock.now()).total_seconds()))
            if timeout > 0:
                await bus.deadlines_changed.wait(timeout, seen)
