"""Parsed schedules, cached: the ticker evaluates the same few expressions for many jobs."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from . import cron


@lru_cache(maxsize=65536)
def schedule_for(expression: str, timezone: str, anchor: datetime) -> cron.CronSchedule:
    """The schedule of a stored job. ``anchor`` only matters for ``@every`` expressions, so
    other expressions are cached under one key whatever the job's anchor."""
    return cron.parse(expression, timezone, anchor=anchor)


def for_job(expression: str, timezone: str, anchor: datetime) -> cron.CronSchedule:
    key_anchor = anchor if expression.strip().lower().startswith("@every") else _EPOCH
    return schedule_for(expression, timezone, key_anchor)


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
