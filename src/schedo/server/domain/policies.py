"""Scheduling policies: retry backoff, deadlines and catch-up after downtime.

Pure functions; time is always an argument. The rules are SPEC section 3 and are explained to
users in docs/semantics.md.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .model import CatchUp

RETRY_BASE_SECONDS = 10.0
RETRY_CAP_SECONDS = 600.0
RETRY_JITTER = 0.2
PICKUP_WINDOW_CAP_SECONDS = 60
RUN_GRACE_SECONDS = 5
DEFAULT_TIMEOUT_SECONDS = 60
LATEST_MAX_AGE = timedelta(hours=1)
ALL_MAX_RUNS = 100
# How many tick instants we enumerate for one job after a downtime before we stop counting
# exactly (a per-second job down for a week would otherwise mean 600k iterations).
MISSED_SCAN_CAP = 20_000
_RNG = random.Random()


def retry_delay(retry_number: int, rng: random.Random | None = None) -> float:
    """Backoff before retry ``retry_number`` (1-based): 10 s doubling, capped at 10 min, ±20 %."""
    if retry_number < 1:
        raise ValueError("retry_number is 1-based")
    base = min(RETRY_BASE_SECONDS * 2 ** (retry_number - 1), RETRY_CAP_SECONDS)
    r = rng if rng is not None else _RNG
    return float(base * (1 + r.uniform(-RETRY_JITTER, RETRY_JITTER)))


def will_retry(attempt: int, max_retries: int) -> bool:
    """A failed or expired ``attempt`` (1-based) gets another one: ``max_retries`` retries
    follow the first attempt. Alerting waits for the last attempt (SPEC 4 turns)."""
    return attempt <= max_retries


def pickup_deadline(due_at: datetime, timeout_seconds: int) -> datetime:
    """A run not picked up by this instant expires: due + min(timeout, 60 s)."""
    return due_at + timedelta(seconds=min(timeout_seconds, PICKUP_WINDOW_CAP_SECONDS))


def run_deadline(picked_at: datetime, timeout_seconds: int) -> datetime:
    """A picked-up run not reported by this instant expires: pick-up + timeout + 5 s grace."""
    return picked_at + timedelta(seconds=timeout_seconds + RUN_GRACE_SECONDS)


@dataclass
class DueTicks:
    """What to create for one job whose ticks ``<= now`` have come due.

    ``run``: instants that get a pending execution (attempt 1), oldest first.
    ``caught_up``: those of ``run`` that were missed and are run late (catch-up): their
    pick-up window starts when they are created, not at their instant.
    ``skipped_at``/``missed``: when missed ticks are not run, one skipped execution at the
    latest such instant records how many (``missed_exact`` False means "at least").
    """

    run: list[datetime] = field(default_factory=list)
    caught_up: list[datetime] = field(default_factory=list)
    skipped_at: datetime | None = None
    missed: int = 0
    missed_exact: bool = True
    next_run_at: datetime | None = None

    def skip_message(self, policy: CatchUp) -> str:
        n = f"{self.missed}" if self.missed_exact else f"at least {self.missed}"
        return (
            f"missed {n} scheduled run(s) while the scheduler was not running "
            f"(catch_up={policy.value})"
        )


def plan_ticks(
    ticks: Iterator[datetime],
    now: datetime,
    policy: CatchUp,
    grace: timedelta,
    resume: Iterator[datetime] | None = None,
) -> DueTicks:
    """Split the due ticks of one job into runs and recorded misses, and find the next tick.

    ``ticks`` yields the job's fire instants from its stored ``next_run_at`` on, ascending.
    A tick is *on time* when ``now - tick <= grace``: it runs whatever the policy. Older ticks
    are *missed* (the scheduler was down or far behind) and ``policy`` decides:
    ``none`` runs none of them, ``latest`` runs the most recent one if it is less than an hour
    old and no on-time tick exists, ``all`` runs the most recent 100. ``resume``, if given,
    is a fresh iterator starting shortly before ``now`` used when more than MISSED_SCAN_CAP
    missed ticks were enumerated (the count is then a lower bound).
    """
    scan = _Scan(now, grace)
    if resume is None:
        scan.take(ticks)
    elif scan.take(ticks, limit=MISSED_SCAN_CAP):
        scan.exact = False
        scan.take(t for t in resume if not (scan.recent and t <= scan.recent[-1]))
    return scan.plan(policy)


class _Scan:
    """The due ticks of one job, sorted into on-time and missed as they are enumerated."""

    def __init__(self, now: datetime, grace: timedelta) -> None:
        self.now, self.grace = now, grace
        self.recent: deque[datetime] = deque(maxlen=ALL_MAX_RUNS)  # newest missed ticks
        self.on_time: list[datetime] = []
        self.missed = 0
        self.evicted: datetime | None = None  # newest missed tick that fell out of ``recent``
        self.next_run_at: datetime | None = None
        self.exact = True

    def take(self, ticks: Iterator[datetime] | Any, limit: int | None = None) -> bool:
        """Sort ``ticks`` up to the first future one; True when ``limit`` missed ticks were
        scanned before that (the caller may skip ahead)."""
        scanned = 0
        for t in ticks:
            if t > self.now:
                self.next_run_at = t
                return False
            if self.now - t <= self.grace:
                self.on_time.append(t)
                continue
            self.missed += 1
            if len(self.recent) == self.recent.maxlen:
                self.evicted = self.recent[0]
            self.recent.append(t)
            scanned += 1
            if limit is not None and scanned >= limit:
                return True
        return False

    def chosen(self, policy: CatchUp) -> list[datetime]:
        """The missed ticks the policy runs."""
        if not self.recent or policy is CatchUp.NONE:
            return []
        if policy is CatchUp.ALL:
            return list(self.recent)
        if not self.on_time and self.now - self.recent[-1] < LATEST_MAX_AGE:
            return [self.recent[-1]]
        return []

    def skipped_at(self, chosen: list[datetime]) -> datetime | None:
        """The latest missed instant that is not run (it carries the record)."""
        taken = set(chosen)
        for t in reversed(self.recent):
            if t not in taken:
                return t
        return self.evicted  # every instant kept in ``recent`` runs: an older one

    def plan(self, policy: CatchUp) -> DueTicks:
        chosen = self.chosen(policy)
        not_run = self.missed - len(chosen)
        return DueTicks(
            run=chosen + self.on_time,
            caught_up=chosen,
            skipped_at=self.skipped_at(chosen) if not_run > 0 else None,
            missed=max(0, not_run),
            missed_exact=self.exact,
            next_run_at=self.next_run_at,
        )
