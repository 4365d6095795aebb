"""Backfill and re-run: past instants of a job run on request. Pure (time is an argument).

A *backfill* creates the run of every fire instant of a range as the tick itself would have:
source "schedule", attempt 1, so the unique key (job, source, instant, attempt) skips every
instant that already has a run (ran, skipped, missed-and-recorded) and a backfill repeated
creates nothing. Its runs are due at once, oldest first; run i (0-based) gets its pick-up
window counted from ``now + i * window`` (window = min(timeout, 60 s)), so a long backfill
drains through the workers as a queue instead of expiring its tail after one window.

A *re-run* is the next attempt of an instant: same source and instant, attempt = the highest
attempt of that instant + 1, trigger "rerun", due now. It keeps the unique key exact without
a new key space, and is refused while an attempt of that instant is pending or running.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from .errors import Conflict, InvalidInput
from .lifecycle import RunDraft, draft
from .model import RunStatus, Source, Trigger
from .policies import PICKUP_WINDOW_CAP_SECONDS
from .records import Job, Run

BACKFILL_MAX = 1000


def fire_instants(ticks: Iterator[datetime], end: datetime, cap: int = BACKFILL_MAX
                  ) -> list[datetime]:
    """The instants of ``ticks`` (ascending, from the start of the range) up to and
    including ``end``; InvalidInput when there are more than ``cap``."""
    out: list[datetime] = []
    for t in ticks:
        if t > end:
            return out
        if len(out) == cap:
            raise InvalidInput(
                f"backfill: the range holds more than {cap} fire instants; split it")
        out.append(t)
    return out


def backfill_runs(job: Job, instants: Sequence[datetime], now: datetime) -> list[RunDraft]:
    if job.blocking:
        raise Conflict(f"job {job.id} is blocking: the runs of a backfill would overlap")
    window = timedelta(seconds=min(job.timeout_seconds, PICKUP_WINDOW_CAP_SECONDS))
    return [draft(job, status=RunStatus.PENDING, source=Source.SCHEDULE, scheduled_for=t,
                  trigger=Trigger.BACKFILL, due_at=now, now=now, window_from=now + i * window)
            for i, t in enumerate(instants)]


def rerun_of(ex: Run, job: Job, last_attempt: int, active: bool, now: datetime) -> RunDraft:
    """The next attempt of ``ex``'s instant (``last_attempt``: its highest so far)."""
    if active:
        raise Conflict(f"execution {ex.id}: an attempt of its instant is still pending or "
                       "running")
    return draft(job, status=RunStatus.PENDING, source=ex.source, scheduled_for=ex.scheduled_for,
                 trigger=Trigger.RERUN, due_at=now, now=now, attempt=last_attempt + 1,
                 metadata=job.metadata, payload=ex.payload,
                 lane=(ex.target_host, ex.target_tags))  # on its host (target mode "all")
