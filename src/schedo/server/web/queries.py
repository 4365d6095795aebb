"""Read models of the dashboard: overview numbers, job filters, fire times, the duration chart,
waiting retries.

Reads go through the storage protocol wherever it has what we need. One count (runs in the last
24 h by outcome) has no protocol method; on the SQL store it is one grouped query, elsewhere it
falls back to walking each job's recent history.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import func, select

from ..domain import cron
from ..domain.model import ExecStatus, JobStatus, Trigger
from ..domain.records import Execution, Job
from ..domain.schedules import for_job
from ..services import jobs as svc_jobs
from ..services.context import Principal, Services
from ..storage.schema import executions
from ..storage.sql import SqlStore
from .render import duration_ms, status_of, utc_text

DAY = timedelta(hours=24)
OUTCOMES = ("completed", "failed", "expired", "running", "pending", "skipped")

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


@dataclass(frozen=True)
class RetryWait:
    """A failing job's retry that waits for its backoff (or for a worker to take it)."""

    number: int  # 1 for the first retry
    of: int  # the job's max_retries
    due_at: datetime


@dataclass(frozen=True)
class Overview:
    total: int
    active: int
    paused: int
    failing: list[Job]  # failed, or failed with a retry waiting (``retries``)
    retries: dict[int, RetryWait]
    runs: dict[str, int]
    runs_total: int
    next_due: list[Job]


async def run_counts(svc: Services, env_id: int, since: datetime, jobs: list[Job]) -> Counter[str]:
    store = svc.store
    if isinstance(store, SqlStore):
        q = (
            select(executions.c.status, func.count())
            .where(executions.c.environment_id == env_id, executions.c.scheduled_for >= since)
            .group_by(executions.c.status)
        )
        async with store.db.read() as c:
            return Counter({str(s): int(n) for s, n in (await c.execute(q)).all()})
    counts: Counter[str] = Counter()
    for job in jobs:
        cursor: int | None = None
        while True:
            page = await store.list_executions(env_id, job.id, cursor, 200)
            recent = [e for e in page if e.scheduled_for >= since]
            counts.update(e.status.value for e in recent)
            if len(page) < 200 or len(recent) < len(page):
                break
            cursor = page[-1].id
    return counts


async def waiting_retries(svc: Services, p: Principal, jobs: list[Job]) -> dict[int, RetryWait]:
    """The jobs whose latest run (the one ``status`` mirrors) is a retry that has not started:
    their last attempt failed or expired and the next one is pending. The API calls them
    ``pending``; the dashboard shows them failing, with the retry and when it is due.

    A job is in that state only if its status is pending and ``retry_count`` > 0 (a retry sets
    both; a new tick or a manual run resets the count), so only those few jobs cost a read:
    their latest run, through the same service call as ``GET /jobs/{id}``'s ``last_run``."""
    out: dict[int, RetryWait] = {}
    for job in jobs:
        if job.status is not JobStatus.PENDING or job.retry_count < 1:
            continue
        run = await svc_jobs.last_run(svc, p, job.id)
        if run is None or run.status is not ExecStatus.PENDING or run.trigger is not Trigger.RETRY:
            continue  # moved on since the job was read: show what the job says
        number = run.attempt - 1
        out[job.id] = RetryWait(number=number, of=max(job.max_retries, number), due_at=run.due_at)
    return out


def is_failing(job: Job, retries: dict[int, RetryWait]) -> bool:
    """Failing as the dashboard shows it: the latest run failed or expired, or it did and its
    retry is waiting."""
    return job.status is JobStatus.FAILED or job.id in retries


async def overview(svc: Services, p: Principal, now: datetime) -> Overview:
    jobs = await svc_jobs.list_all(svc, p)
    retries = await waiting_retries(svc, p, jobs)
    counts = await run_counts(svc, p.env_id, now - DAY, jobs)
    due = sorted(
        (j for j in jobs if j.next_run_at and not j.paused),
        key=lambda j: (j.next_run_at or now, j.id),
    )
    return Overview(
        total=len(jobs),
        active=sum(1 for j in jobs if not j.paused),
        paused=sum(1 for j in jobs if j.paused),
        failing=[j for j in jobs if is_failing(j, retries)],
        retries=retries,
        runs={k: counts.get(k, 0) for k in OUTCOMES},
        runs_total=sum(counts.values()),
        next_due=due[:8],
    )


def filter_jobs(
    jobs: list[Job], q: str, status: str, kind: str, retries: dict[int, RetryWait] | None = None
) -> list[Job]:
    """``status`` filters by the status the dashboard shows: a job whose retry waits is
    "failed" (Failing), not "pending"."""
    waiting = retries or {}
    needle = q.strip().lower()
    out = []
    for j in jobs:
        if needle and needle not in j.name.lower() and needle not in (j.webhook_url or "").lower():
            continue
        if kind and j.type.value != kind:
            continue
        if status == "paused" and not j.paused:
            continue
        if status == "active" and j.paused:
            continue
        if status == "muted" and not j.muted:
            continue
        if status == "failed" and not is_failing(j, waiting):
            continue
        if status == "pending" and (j.status is not JobStatus.PENDING or j.id in waiting):
            continue
        if status in ("completed", "running") and j.status.value != status:
            continue
        out.append(j)
    return out


def describe(job: Job) -> str:
    try:
        return for_job(job.cron_expression, job.timezone, job.anchor_at).describe()
    except (cron.CronError, ValueError):
        return job.cron_expression


def next_fire_times(job: Job, now: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` fire instants of the schedule after ``now`` (also while paused:
    then they are the times it would fire after a resume)."""
    sched = for_job(job.cron_expression, job.timezone, job.anchor_at)
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


def duration_chart(runs: list[Execution], width: int = 600, height: int = 120) -> Chart | None:
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
    failed = sum(1 for e in timed if e.status.value in ("failed", "expired"))
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
