"""The reaper: expires runs past their pick-up or run deadline and schedules their retries,
and sends the no-success alerts of jobs whose window passed (``check_windows``).

Sleeps until the nearest deadline; wakes early when a new run may bring a nearer one.

Restart grace: a deadline that passed while no server ran (earlier than this process's
start) is held for ``restart_grace_seconds`` after the start, so that workers that kept
their results through the outage can reconnect and report them before the run counts as
expired (docs/semantics.md, "Deadlines"). Deadlines that pass after the start are kept as
usual.

One run whose expiry fails alone is set aside (``SetAside``); the others still expire.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..domain.records import Run
from ..runtime.loop import run_loop, seconds_until
from ..services import scheduling
from ..services.context import Services
from .setaside import SetAside, database_down

log = logging.getLogger("schedo.reaper")
MAX_IDLE = 30.0
WINDOW_EVERY = 30.0  # seconds between two looks for no-success windows that passed


class Reaper:
    def __init__(self, svc: Services, started_at: datetime | None = None) -> None:
        self.svc = svc
        self.started_at = started_at or svc.clock.now()
        self.resume_at = self.started_at + timedelta(
            seconds=svc.settings.restart_grace_seconds
        )
        self.aside = SetAside("reaper")
        self.windows_at = self.started_at  # when check_windows next looks

    def held_before(self, now: datetime) -> datetime | None:
        """Deadlines earlier than this are held at ``now`` (None: none are)."""
        return self.started_at if now < self.resume_at else None

    async def check_windows(self, now: datetime) -> None:
        """The alerts no run's end brings (no-success windows, reminders, runs still
        running past their max duration), at most every ``WINDOW_EVERY`` seconds and when
        the earliest window or reminder comes due. A failure here never stops expiry."""
        if now < self.windows_at:
            return
        self.windows_at = now + timedelta(seconds=WINDOW_EVERY)
        try:
            n = await scheduling.write_timed_alerts(self.svc, now)
            if n:
                log.info("alerts.written count=%d", n)
            due = await scheduling.next_window(self.svc)
        except Exception:
            if await database_down(self.svc):
                raise
            log.exception("alerts.error: expiry goes on; tried again later")
            return
        if due is not None:
            self.windows_at = min(self.windows_at, max(due, now))

    async def reap_once(self, now: datetime) -> list[Run]:
        await self.check_windows(now)
        expired: list[Run] = []
        held = self.held_before(now)
        while True:
            try:
                batch = await scheduling.expire_overdue(
                    self.svc, now, held_before=held, skip=self.aside.ids(now)
                )
            except Exception:
                if await database_down(self.svc):
                    raise  # the database, not a run: the loop retries the whole pass
                log.exception("reaper.batch_failed: retrying its runs one by one")
                expired.extend(await self._one_by_one(now, held))
                break
            expired.extend(batch)
            if not batch:
                break
        if expired:  # (scheduling.expire_overdue woke the pullers: retries may have been made)
            log.info("runs.expired count=%d", len(expired))
        return expired

    async def _one_by_one(self, now: datetime, held: datetime | None) -> list[Run]:
        svc, out = self.svc, []
        skip = self.aside.ids(now)
        for run_id in await scheduling.overdue_ids(svc, now, held_before=held, skip=skip):
            try:
                out.extend(await scheduling.expire_overdue(svc, now, held_before=held,
                                                           only=[run_id]))
            except Exception as exc:
                if await database_down(self.svc):
                    raise
                self.aside.add(run_id, now, exc)
        return out

    async def step(self) -> float | None:
        """One pass of the loop: expire what is overdue; return in how many seconds the
        nearest deadline passes (None: no live run)."""
        self.svc.bus.reaper_wakes_at = None  # unknown until this pass ends (bus.py)
        now = self.svc.clock.now()
        await self.reap_once(now)
        held = self.held_before(now)
        nearest = self.aside.wake_at(now, await scheduling.next_deadline(
            self.svc, not_before=held, skip=self.aside.ids(now)))
        if held is not None:
            nearest = min(nearest or self.resume_at, self.resume_at)
        nearest = min(nearest or self.windows_at, self.windows_at)
        due_in = seconds_until(self.svc.clock, nearest)
        # when run_loop wakes this loop by itself: the nearest, at most MAX_IDLE from now
        self.svc.bus.reaper_wakes_at = min(nearest, self.svc.clock.now()
                                           + timedelta(seconds=MAX_IDLE))
        return due_in

    async def run(self) -> None:
        if self.resume_at > self.svc.clock.now():
            log.info("reaper.restart_grace until=%s", self.resume_at.isoformat())
        await run_loop(self.step, self.svc.bus.deadlines_changed, max_idle=MAX_IDLE,
                       name="reaper.error", log=log)
