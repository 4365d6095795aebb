"""The ticker: creates the executions of due jobs, in batches, exactly once per tick.

It sleeps until the earliest ``next_run_at`` (no polling interval), wakes early when a job
is defined, changed, paused or resumed (``bus.jobs_changed``), and re-reads at least every
``MAX_IDLE`` seconds so that changes made by other processes are never missed for long.
Exactly-once comes from the database (unique key + compare on next_run_at inside the tick
transaction), not from this loop: several tickers may run at once.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from ..domain.errors import UnreadableRow
from ..domain.lifecycle import TickPlan
from ..domain.model import RunStatus
from ..domain.policies import plan_ticks
from ..domain.records import Job, Run
from ..domain.schedules import fires, next_or_none, of_job
from ..runtime.loop import run_loop, seconds_until
from ..services import scheduling
from ..services.context import Services
from .setaside import SetAside, database_down

log = logging.getLogger("schedo.ticker")
MAX_IDLE = 30.0
RESUME_WINDOW = timedelta(hours=2)


def plan_job(job: Job, now: datetime, grace: timedelta) -> TickPlan:
    """Pure: what to create for ``job`` whose next_run_at <= now."""
    assert job.next_run_at is not None
    sched = of_job(job)
    ticks = itertools.chain([job.next_run_at], fires(sched, job.next_run_at))
    resume = fires(sched, max(job.next_run_at, now - RESUME_WINDOW))
    plan = plan_ticks(ticks, now, job.catch_up, grace, resume)
    # None: the schedule has no instant left (an @at that ran): the job ticks no more
    nxt = plan.next_run_at or next_or_none(sched, now)
    return TickPlan(
        run=plan.run,
        skipped_at=plan.skipped_at,
        skipped_error=plan.skip_message(job.catch_up) if plan.skipped_at else None,
        next_run_at=nxt,
        caught_up=plan.caught_up,
    )


class Ticker:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.grace = timedelta(seconds=svc.settings.misfire_grace_seconds)
        self.batch = svc.settings.tick_batch_size
        self.aside = SetAside("ticker")

    async def tick_once(self, now: datetime) -> int:
        """Handle every job due at ``now``; return how many pending runs were created. A
        batch that fails is retried one job per transaction, and a job that fails alone is
        set aside (``SetAside``) so that every other job still ticks."""
        created = 0
        while True:
            try:
                res = await scheduling.tick(
                    self.svc, now, self.batch, lambda j: plan_job(j, now, self.grace),
                    self.aside.ids(now),
                )
            except Exception:
                if await database_down(self.svc):
                    raise  # the database, not a job: the loop retries the whole pass
                log.exception("ticker.batch_failed: retrying its jobs one by one")
                return created + await self._one_by_one(now)
            created += self._announce(res.created)
            if res.jobs < self.batch:
                return created

    def _plan_noting(self, planned: list[Job], now: datetime, job: Job) -> TickPlan:
        planned.append(job)
        return plan_job(job, now, self.grace)

    def _announce(self, made: Sequence[Run]) -> int:
        """Count (and log) the new pending runs; scheduling.tick woke their pullers."""
        pending = [e for e in made if e.status is RunStatus.PENDING]
        if pending:
            log.debug("tick.created count=%d", len(pending))
        return len(pending)

    async def _one_by_one(self, now: datetime) -> int:
        created = 0
        while True:
            planned: list[Job] = []
            try:
                res = await scheduling.tick(
                    self.svc, now, 1, functools.partial(self._plan_noting, planned, now),
                    self.aside.ids(now),
                )
            except Exception as exc:
                # the job that failed: the one being planned or stored, or a row that could
                # not even be read (it names itself)
                culprit = exc.row_id if isinstance(exc, UnreadableRow) else (
                    planned[-1].id if planned else None)
                if culprit is None or await database_down(self.svc):
                    raise  # not a job's fault: the database itself
                self.aside.add(culprit, now, exc)
                continue
            created += self._announce(res.created)
            if res.jobs < 1:
                return created

    async def step(self) -> float | None:
        """One pass of the loop: tick what is due; return in how many seconds the next job
        is due (None: no unpaused job)."""
        await self.tick_once(self.svc.clock.now())
        now = self.svc.clock.now()
        nearest = await scheduling.next_tick(self.svc, skip=self.aside.ids(now))
        return seconds_until(self.svc.clock, self.aside.wake_at(now, nearest))

    async def run(self) -> None:
        await run_loop(self.step, self.svc.bus.jobs_changed, max_idle=MAX_IDLE,
                       name="ticker.error", log=log)
