"""Parsed schedules, cached: the ticker evaluates the same few expressions for many jobs.

A job's schedule is its ``cron_expression`` plus any extra ``crons`` (the union of their
instants: an instant two expressions share fires once), each with its ``H`` fields resolved
for the job. A schedule that has no instant left (``@at`` once it passed) gives None from
:func:`next_or_none` and ends :func:`fires`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from . import cron, hashed
from .records import Job


class Schedule(Protocol):
    def next_after(self, after: datetime) -> datetime: ...
    def iter_after(self, after: datetime) -> Iterator[datetime]: ...
    def describe(self) -> str: ...


@lru_cache(maxsize=65536)
def schedule_for(expression: str, timezone: str, anchor: datetime) -> cron.CronSchedule:
    """The schedule of a stored job. ``anchor`` only matters for ``@every`` expressions, so
    other expressions are cached under one key whatever the job's anchor."""
    return cron.parse(expression, timezone, anchor=anchor)


def for_job(
    expression: str, timezone: str, anchor: datetime, seed: str | None = None
) -> cron.CronSchedule:
    """The schedule of a job; ``seed`` (``hashed.seed_of``) resolves its ``H`` fields."""
    if seed is not None:
        expression = hashed.resolve(expression, seed)
    key_anchor = anchor if expression.strip().lower().startswith("@every") else _EPOCH
    return schedule_for(expression, timezone, key_anchor)


@dataclass(frozen=True, slots=True)
class UnionSchedule:
    """Several schedules read as one: every instant of any of them, each once."""

    parts: tuple[cron.CronSchedule, ...]

    @property
    def expression(self) -> str:
        return " | ".join(p.expression for p in self.parts)

    @property
    def timezone(self) -> str:
        return self.parts[0].timezone

    def next_after(self, after: datetime) -> datetime:
        found = [t for p in self.parts if (t := next_or_none(p, after)) is not None]
        if not found:
            raise cron.CronError(f"schedule: {self.expression!r} does not fire after {after}")
        return min(found)

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        def generate(instant: datetime) -> Iterator[datetime]:
            while True:
                instant = self.next_after(instant)
                yield instant

        return generate(after)

    def describe(self) -> str:
        return " + ".join(p.describe() for p in self.parts)


def schedule_of(expression: str, crons: Sequence[str], timezone: str, anchor: datetime,
                seed: str | None) -> cron.CronSchedule | UnionSchedule:
    first = for_job(expression, timezone, anchor, seed)
    if not crons:
        return first
    return UnionSchedule((first, *(for_job(c, timezone, anchor, seed) for c in crons)))


def of_job(job: Job) -> cron.CronSchedule | UnionSchedule:
    """A stored job's schedule, its ``H`` fields resolved with its seed."""
    return schedule_of(job.cron_expression, job.crons, job.timezone, job.anchor_at,
                       hashed.seed_of(job.environment_id, job.name))


# the last answers by (schedule, instant): parsed schedules are shared (``schedule_for``),
# and a herd of jobs of one expression, due at one instant, asks each the same question
_NEXT: dict[tuple[int, datetime], tuple[Schedule, datetime]] = {}
_NEXT_MAX = 4096


def next_or_none(schedule: Schedule, after: datetime) -> datetime | None:
    """The first instant after ``after``; None when the schedule has none left."""
    key = (id(schedule), after)
    hit = _NEXT.get(key)
    if hit is not None and hit[0] is schedule:  # the entry keeps its schedule (and id) alive
        return hit[1]
    try:
        t = schedule.next_after(after)
    except cron.CronError:
        return None
    if len(_NEXT) >= _NEXT_MAX:
        _NEXT.clear()
    _NEXT[key] = (schedule, t)
    return t


def fires(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """Successive instants after ``after``, ending when the schedule has none left."""
    t = next_or_none(schedule, after)
    while t is not None:
        yield t
        t = next_or_none(schedule, t)


def resolved(expression: str, environment_id: int, name: str) -> str:
    """The expression a job's schedule is read as (its ``H`` fields resolved)."""
    return hashed.resolve(expression, hashed.seed_of(environment_id, name))


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
