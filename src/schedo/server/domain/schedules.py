"""Parsed schedules, cached: the ticker evaluates the same few expressions for many jobs."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from . import cron, hashed
from .records import Job


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


def of_job(job: Job) -> cron.CronSchedule:
    """A stored job's schedule, its ``H`` fields resolved with its seed."""
    return for_job(job.cron_expression, job.timezone, job.anchor_at,
                   hashed.seed_of(job.environment_id, job.name))


def resolved(expression: str, environment_id: int, name: str) -> str:
    """The expression a job's schedule is read as (its ``H`` fields resolved)."""
    return hashed.resolve(expression, hashed.seed_of(environment_id, name))


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
