"""Presentation of the dashboard's read models: job filters, schedule descriptions, fire
times, the duration chart. The read models themselves (overview numbers, waiting retries)
are use cases in ``services.dashboard``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from statistics import median

from ..domain import cron, hashed
from ..domain.model import RunStatus
from ..domain.records import Job, Run
from ..domain.schedules import of_job, resolved, schedule_of
from .render import duration_ms, status_of, utc_text

STATUS_FILTERS = {
    "": "Any status",
    "failed": "Failing",
    "completed": "Succeeded",
    "running": "Running",
    "pending": "Pending",
    "paused": "Paused",
    "muted": "Muted",
    "active": "Not paused",
}
TYPE_FILTERS = {"": "Any type", "push": "Push (webhook)", "sdk": "SDK worker", "command": "Command"}


def resolved_cron(job: Job) -> str:
    """The schedule with its H fields resolved for this job (the same text without H)."""
    try:
        return resolved(job.cron_expression, job.environment_id, job.name)
    except ValueError:
        return job.cron_expression


def describe(job: Job) -> str:
    """The schedule in words. Remembered by what it depends on (the expressions, the zone,
    the anchor, the H seed's environment and name): the jobs table shows 50 a page every few
    seconds, and parsing and wording a schedule costs ~0.1 ms each time."""
    return _described(job.cron_expression, tuple(job.crons), job.timezone, job.anchor_at,
                      job.environment_id, job.name)


@lru_cache(maxsize=4096)
def _described(expression: str, crons: tuple[str, ...], tz: str, anchor_at: datetime,
               environment_id: int, name: str) -> str:
    try:
        return schedule_of(expression, crons, tz, anchor_at,
                           hashed.seed_of(environment_id, name)).describe()
    except (cron.CronError, ValueError):
        return expression


def next_fire_times(job: Job, now: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` fire instants of the schedule after ``now`` (also while paused:
    then they are the times it would fire after a resume)."""
    sched = of_job(job)
    out: list[datetime] = []
    try:
        for instant in sched.iter_after(now):
            out.append(instant)
            if len(out) >= count:
                break
    except cron.CronError:
        pass
    return out


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    css: str
    label: str
    exec_id: int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    max_ms: int
    summary: str
    first: datetime
    last: datetime


def duration_chart(runs: list[Run], width: int = 600, height: int = 120) -> Chart | None:
    """Bars of run durations, oldest left; ``runs`` newest first (as history returns them)."""
    timed = [e for e in reversed(runs) if e.duration is not None]
    if not timed:
        return None
    values = [int(e.duration or 0) for e in timed]
    top = max(max(values), 1)
    slot = width / max(len(timed), 12)
    bars = []
    for i, e in enumerate(timed):
        ms = int(e.duration or 0)
        h = max(2.0, ms / top * (height - 4))
        _icon, word, css = status_of(e.status)
        label = f"Run #{e.id}: {duration_ms(ms)}, {word.lower()}, {utc_text(e.scheduled_for)}"
        bars.append(
            Bar(
                x=i * slot + slot * 0.15,
                y=height - h,
                w=slot * 0.7,
                h=h,
                css=css,
                label=label,
                exec_id=e.id,
            )
        )
    failed = sum(1 for e in timed if e.status in (RunStatus.FAILED, RunStatus.EXPIRED))
    summary = (
        f"Durations of the last {len(timed)} runs: shortest {duration_ms(min(values))}, "
        f"median {duration_ms(median(values))}, longest {duration_ms(max(values))}"
        + (f"; {failed} failed (hatched bars)" if failed else "")
        + "."
    )
    return Chart(
        bars=bars,
        width=width,
        height=height,
        max_ms=top,
        summary=summary,
        first=timed[0].scheduled_for,
        last=timed[-1].scheduled_for,
    )
