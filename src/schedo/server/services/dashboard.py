"""The dashboard's read models: the overview's numbers and the retries a failing job waits
for. The pages (``web``) only present them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..domain.model import JobStatus, RunStatus, Trigger
from ..domain.records import Job, Run
from ..storage.contracts import JOB_SORTS as JOB_SORTS  # re-exported (the web layer)
from ..storage.contracts import Attention, DayCount, JobFilter, JobNaming, JobsAtGlance
from ..storage.contracts import RunMark as RunMark  # re-exported (the web layer)
from . import jobs as svc_jobs
from .context import Principal, Services

DAY = timedelta(hours=24)
OUTCOMES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.EXPIRED, RunStatus.RUNNING,
            RunStatus.PENDING, RunStatus.SKIPPED)
STRIP_RUNS = 20  # runs in a job's strip on the jobs table
JOBS_PAGE = 50  # jobs per page of the jobs table
HEAT_DAYS = 30  # days in a job's day strip (UTC days, today included)
DAY_RUNS = 500  # runs a day page lists at most
EPOCH = date(1970, 1, 1)
LATE_AFTER = timedelta(seconds=60)  # a due run nothing took for this long is late
NEEDS_SHOWN = 10  # entries per list of the overview's "what needs you"


@dataclass(frozen=True)
class RetryWait:
    """A failing job's retry that waits for its backoff (or for a worker to take it)."""

    number: int  # 1 for the first retry
    of: int  # the job's max_retries
    due_at: datetime


@dataclass(frozen=True)
class NeedsYou:
    """The overview's "what needs you now" (issue 22), each list newest or worst first."""

    failing: list[Job]
    late_runs: list[Attention]  # pending, due more than LATE_AFTER ago: nothing took them
    late_jobs: list[Job]  # not paused, next run more than LATE_AFTER past: no tick made it
    missed: list[Attention]  # expired, or skipped as missed, in the last 24 hours
    auto_paused: list[Job]  # paused by the pause-after-failures rule
    muted: list[Job]

    @property
    def empty(self) -> bool:
        return not (self.failing or self.late_runs or self.late_jobs or self.missed
                    or self.auto_paused or self.muted)


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
    needs: NeedsYou


async def run_counts(svc: Services, p: Principal, since: datetime) -> Counter[str]:
    """Runs of the key's environment scheduled since ``since``, by status."""
    return Counter(await svc.store.count_runs_since(p.env_id, since))


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
        if run is None or run.status is not RunStatus.PENDING or run.trigger is not Trigger.RETRY:
            continue  # moved on since the job was read: show what the job says
        number = run.attempt - 1
        out[job.id] = RetryWait(number=number, of=max(job.max_retries, number), due_at=run.due_at)
    return out


def is_failing(job: Job, retries: dict[int, RetryWait]) -> bool:
    """Failing as the dashboard shows it: the latest run failed or expired, or it did and its
    retry is waiting."""
    return job.status is JobStatus.FAILED or job.id in retries


DUE_SHOWN = 8  # jobs in the overview's "next due"


async def overview(svc: Services, p: Principal, now: datetime) -> Overview:
    """The overview's numbers, without loading every job: the counts in SQL and only the jobs
    shown (failing, due soonest, paused by failures, muted) read (``jobs_at_glance``)."""
    glance = await svc.store.jobs_at_glance(p.env_id, max(DUE_SHOWN, NEEDS_SHOWN), NEEDS_SHOWN)
    retries = await waiting_retries(svc, p, glance.failing)
    counts = await run_counts(svc, p, now - DAY)
    return Overview(
        total=glance.total,
        active=glance.total - glance.paused,
        paused=glance.paused,
        failing=[j for j in glance.failing if is_failing(j, retries)],
        retries=retries,
        runs={k: counts.get(k, 0) for k in OUTCOMES},
        runs_total=sum(counts.values()),
        next_due=glance.next_due[:DUE_SHOWN],
        needs=await needs_you(svc, p, now, glance, retries),
    )


async def needs_you(
    svc: Services, p: Principal, now: datetime, glance: JobsAtGlance,
    retries: dict[int, RetryWait],
) -> NeedsYou:
    """What needs someone now: failing jobs (most failures in a row first), late runs and
    jobs, runs that expired or were missed in the last 24 hours, jobs paused by failures and
    muted jobs. Late jobs are the first of the jobs due soonest (their next run is the
    earliest), so the glance's ``next_due`` holds the first ``NEEDS_SHOWN`` of them."""
    runs = await svc.store.needs_attention(p.env_id, now - LATE_AFTER, now - DAY,
                                           2 * NEEDS_SHOWN)
    failing = sorted((j for j in glance.failing if is_failing(j, retries)),
                     key=lambda j: (-j.consecutive_failures, j.name))
    late_jobs = [j for j in glance.next_due
                 if j.next_run_at is not None and j.next_run_at < now - LATE_AFTER]
    return NeedsYou(
        failing=failing[:NEEDS_SHOWN],
        # a heartbeat run waits for a ping until its grace ends (then it expires: "missed");
        # nothing is to take it, so waiting is not being late: needs_attention leaves them out
        late_runs=[r for r in runs if r.status == RunStatus.PENDING][:NEEDS_SHOWN],
        late_jobs=late_jobs[:NEEDS_SHOWN],
        missed=[r for r in runs if r.status != RunStatus.PENDING][:NEEDS_SHOWN],
        auto_paused=glance.auto_paused[:NEEDS_SHOWN],
        muted=glance.muted[:NEEDS_SHOWN],
    )


async def run_strips(
    svc: Services, p: Principal, jobs: list[Job], per_job: int = STRIP_RUNS
) -> dict[int, list[RunMark]]:
    """The latest ``per_job`` runs of each job, oldest first, by job id (jobs without runs
    are absent): one read for the whole page, whatever the number of jobs."""
    return await svc.store.recent_runs(p.env_id, [j.id for j in jobs], per_job)


@dataclass(frozen=True)
class JobsTable:
    """One page of the jobs table: the jobs the filters select, in the order asked for."""

    total: int  # the environment's jobs
    matched: int  # those the filters select
    number: int  # the page shown, 1-based
    jobs: list[Job]  # its jobs (at most JOBS_PAGE)
    retries: dict[int, RetryWait]  # the retries the page's failing jobs wait for
    tags: list[str]  # the tags the environment's job targets name, sorted (the filter's options)
    tag: str  # the tag filtered on: one of ``tags``, or "" (none, or one no job has)


def tags_of(targets: Iterable[dict[str, Any]]) -> list[str]:
    """The tags ``targets`` name, sorted, without repeats."""
    found: set[str] = set()
    for target in targets:
        tags = target.get("tags")
        if isinstance(tags, list):
            found.update(str(t) for t in tags)
    return sorted(found)


def name_matches(needle: str, naming: JobNaming) -> bool:
    """The name filter: ``needle`` (lowercase) in the job's name or webhook URL, both
    lowercased as Python does (SQL's ``lower`` differs on non-ASCII text)."""
    return needle in naming.name.lower() or needle in (naming.webhook_url or "").lower()


async def _only(svc: Services, p: Principal, q: str, tag: str,
                targets: dict[int, dict[str, Any]]) -> tuple[int, ...] | None:
    """The ids the name and tag filters leave (None: both off)."""
    ids: set[int] | None = None
    needle = q.strip().lower()
    if needle:
        ids = {n.id for n in await svc.store.job_namings(p.env_id) if name_matches(needle, n)}
    if tag:
        tagged = {i for i, t in targets.items() if tag in (t.get("tags") or [])}
        ids = tagged if ids is None else ids & tagged
    return None if ids is None else tuple(sorted(ids))


async def jobs_table(
    svc: Services, p: Principal, *, q: str, status: str, kind: str, tag: str, sort: str,
    descending: bool, page_of: Callable[[int], int], size: int = JOBS_PAGE,
) -> JobsTable:
    """The jobs ``q`` (name or webhook URL), ``status`` (as the dashboard shows it: a job
    whose retry waits is failing, not pending), ``kind`` and ``tag`` (a target tag; one no
    job has: ignored) select, sorted by ``sort`` (not one of ``JOB_SORTS``: by id), page
    ``page_of(matched)`` of ``size``.

    The status and type filters, the sort and the page run in SQL (one COUNT, one read of
    the page's rows). The name and tag filters choose ids first, to match exactly as the
    table always did: the name filter from a narrow read of every job's name and URL,
    lowercased as Python does; the tag filter from the targets (few: command jobs), read
    anyway for the filter's options. Only "failed" and "pending" read the jobs whose retry
    may wait (pending with a retry counted: few)."""
    targets = await svc.store.job_targets(p.env_id)
    tags = tags_of(targets.values())
    tag = tag if tag in tags else ""
    waiting: dict[int, RetryWait] | None = None
    if status in (JobStatus.FAILED, JobStatus.PENDING):
        waiting = await waiting_retries(svc, p, await svc.store.retrying_jobs(p.env_id))
    flt = JobFilter(status=status, kind=kind, ids=await _only(svc, p, q, tag, targets),
                    waiting=tuple(sorted(waiting or {})))
    total, matched = await svc.store.job_counts(p.env_id, flt)
    number = page_of(matched)
    shown = (await svc.store.job_page(p.env_id, flt, sort, descending, (number - 1) * size,
                                      size) if matched else [])
    if waiting is None:
        retries = await waiting_retries(svc, p, shown)
    else:
        retries = {j.id: waiting[j.id] for j in shown if j.id in waiting}
    return JobsTable(total=total, matched=matched, number=number, jobs=shown, retries=retries,
                     tags=tags, tag=tag)


@dataclass(frozen=True)
class DayRuns:
    """A job's runs scheduled on one UTC day, by outcome."""

    day: date
    ok: int = 0  # completed
    failed: int = 0  # failed
    missed: int = 0  # expired or skipped
    other: int = 0  # pending, running or cancelled

    @property
    def total(self) -> int:
        return self.ok + self.failed + self.missed + self.other


BUCKETS = {RunStatus.COMPLETED.value: "ok", RunStatus.FAILED.value: "failed",
           RunStatus.EXPIRED.value: "missed", RunStatus.SKIPPED.value: "missed"}


def _fold(counts: list[DayCount], first: date, days: int) -> list[DayRuns]:
    by_day: dict[date, dict[str, int]] = {}
    for c in counts:
        bucket = BUCKETS.get(c.status, "other")
        slot = by_day.setdefault(EPOCH + timedelta(days=c.day), {})
        slot[bucket] = slot.get(bucket, 0) + c.count
    return [DayRuns(day=d, **by_day.get(d, {}))
            for d in (first + timedelta(days=i) for i in range(days))]  # fmt: skip


async def run_days(
    svc: Services, p: Principal, job: Job, now: datetime, days: int = HEAT_DAYS
) -> list[DayRuns]:
    """The job's runs of the last ``days`` UTC days (today last), counted per day in one
    grouped read; days without runs are there with zeros."""
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    since = datetime.combine(first, time(), UTC)
    return _fold(await svc.store.run_days(p.env_id, job.id, since), first, days)


async def day_runs(
    svc: Services, p: Principal, job: Job, day: date
) -> tuple[list[Run], bool]:
    """The job's runs scheduled on the UTC ``day``, newest first (at most ``DAY_RUNS``), and
    whether the day has more (one more is read to know it)."""
    start = datetime.combine(day, time(), UTC)
    found = await svc.store.runs_between(p.env_id, job.id, start, start + DAY, DAY_RUNS + 1)
    return found[:DAY_RUNS], len(found) > DAY_RUNS
