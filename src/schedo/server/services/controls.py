"""Scheduling controls of a job: a timed pause (``paused_until``) and skipped ticks
(``skip_next``). The rules are in docs/semantics.md ("Timed pause and skips"); the ticker
counts skips down and clears a pause that has passed (``domain.lifecycle.tick_runs``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..domain.errors import InvalidInput
from ..domain.records import Job
from ..domain.schedules import next_or_none, of_job
from . import validation
from .context import Principal, Services

_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Controls:
    """What a definition says about them: ``set_until`` False leaves the pause alone."""

    set_until: bool = False
    until: datetime | None = None  # None: no timed pause (also for an instant that passed)
    skip_next: int | None = None


def from_definition(body: dict[str, Any], now: datetime) -> Controls:
    """Validate the fields (400 naming them) before anything is written."""
    until = None
    if body.get("paused_until") is not None:
        until = validation.instant(body["paused_until"], "paused_until")
        if until <= now:  # a worker resending its definition after the instant: no pause
            until = None
    skip = body.get("skip_next")
    return Controls(set_until="paused_until" in body, until=until,
                    skip_next=None if skip is None else validation.skip_next(skip))


def first_tick_after(until: datetime | None, now: datetime) -> datetime:
    """Where the schedule is counted from: ticks before ``until`` do not run, one at it
    does."""
    return now if until is None or until <= now else until - _MS


async def apply(svc: Services, p: Principal, job: Job, c: Controls, now: datetime) -> Job:
    """After a definition was stored: its timed pause and skip count (absent: unchanged)."""
    if c.set_until and (c.until is not None or job.paused_until is not None):
        nra = next_or_none(of_job(job), first_tick_after(c.until, now))
        job = await svc.store.set_timed_pause(p.env_id, job.id, now, c.until, nra,
                                             actor=p.actor)
        svc.bus.jobs_changed.notify()
    if c.skip_next is not None and c.skip_next != job.skip_next:
        job = await svc.store.set_skip_next(p.env_id, job.id, now, c.skip_next,
                                           actor=p.actor)
    return job


async def pause_until(svc: Services, p: Principal, job_id: int, raw: str) -> Job:
    """``PATCH /jobs/pause/{id}`` with ``{"until": ...}``: paused until then, resumed by
    itself at its first tick at or after it."""
    now = svc.clock.now()
    until = validation.instant(raw, "until")
    if until <= now:
        raise InvalidInput("until: must be in the future")
    job = await svc.store.get_job(p.env_id, job_id)
    nra = next_or_none(of_job(job), first_tick_after(until, now))
    job = await svc.store.set_timed_pause(p.env_id, job_id, now, until, nra, actor=p.actor)
    svc.bus.jobs_changed.notify()
    return job


async def skip(svc: Services, p: Principal, job_id: int, count: int) -> Job:
    """``PATCH /jobs/skip/{id}``: the next ``count`` ticks are recorded as skipped."""
    return await svc.store.set_skip_next(p.env_id, job_id, svc.clock.now(),
                                         validation.skip_next(count), actor=p.actor)
