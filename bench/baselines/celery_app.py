"""The Celery app of the herd baseline: Celery beat (default PersistentScheduler) sends N
periodic tasks due in the same second to a Redis broker; a Celery worker (prefork, 4
processes) runs them. The task notes its start and end (seconds after the due instant) in a
Redis list.

Celery's ``crontab`` has minute resolution, so each entry uses ``AtInstant``: a schedule due
once at a given second (a plain ``celery.schedules.schedule`` subclass, cheaper per check than
``crontab``). Configured from the environment by bench/baselines/celery_herd.py.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any

import redis
from celery import Celery
from celery.schedules import schedstate, schedule

BROKER = os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("BENCH_CELERY_QUEUE", "bench-herd")
RESULTS_KEY = os.environ.get("BENCH_CELERY_KEY", "bench:herd:results")
READY_KEY = RESULTS_KEY + ":beat-ready"
N = int(os.environ.get("BENCH_CELERY_N", "0"))
DUE = float(os.environ.get("BENCH_CELERY_DUE", "0"))

app = Celery("bench_herd", broker=BROKER)
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=True,
    timezone="UTC",
    enable_utc=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

_redis: redis.Redis | None = None
_marked = False


def _r() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(BROKER)
    return _redis


class AtInstant(schedule):  # type: ignore[misc]
    """Due once, at ``at`` (epoch seconds)."""

    def __init__(self, at: float) -> None:
        super().__init__(run_every=3600.0)
        self.at = at

    def is_due(self, last_run_at: datetime) -> schedstate:
        global _marked
        now = time.time()
        if not _marked:  # the first check: beat has loaded its schedule
            _marked = True
            _r().set(READY_KEY, str(now))
        if last_run_at.timestamp() >= self.at:
            return schedstate(is_due=False, next=3600.0)
        if now >= self.at:
            return schedstate(is_due=True, next=3600.0)
        return schedstate(is_due=False, next=self.at - now)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AtInstant) and other.at == self.at

    def __hash__(self) -> int:
        return hash(self.at)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.at,))


@app.task(name="bench.noop")  # type: ignore[untyped-decorator]
def noop(due: float) -> None:
    start = time.time()
    _r().rpush(RESULTS_KEY, f"{start - due:.6f},{time.time() - due:.6f}")


if N:
    app.conf.beat_schedule = {
        f"herd-{i:06d}": {"task": "bench.noop", "schedule": AtInstant(DUE), "args": (DUE,)}
        for i in range(N)
    }
