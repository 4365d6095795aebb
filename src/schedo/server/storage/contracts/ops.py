"""Retention, operational statistics, the dashboard's read models, and the whole store
the services use.

Part of the storage contract; the rules that hold for every method are in
``storage/contracts/__init__.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ...domain.records import Job, Run

# -- retention and operational statistics (docs/hardening.md) -----------------------------------


@dataclass(frozen=True, slots=True)
class PruneBatch:
    """One pruning step (``RetentionStore.prune_*``).

    ``deleted``: rows deleted by this step. ``next_after_id``: where the next step starts
    (pass it back as ``after_id``). ``done``: nothing older than ``before`` is left past
    that point (the step reached the recent part of the table or its end)."""

    deleted: int
    next_after_id: int
    done: bool


class RetentionStore(Protocol):
    """Deleting old history in small steps. Each call is one short write transaction that
    looks at no more than ``limit`` rows (a primary-key range), so a pruning pass never holds
    the database's write lock for long; callers sleep between steps."""

    async def prune_executions(self, before: datetime, after_id: int, limit: int) -> PruneBatch:
        """Among the ``limit`` executions with the smallest ids above ``after_id``, delete
        those created before ``before`` that are ended (never ``pending`` or ``running``)
        and are not the latest execution of their job, nor its latest non-skipped one
        (the run ``GET /jobs/{id}`` shows and the job's status mirrors). Rows of other
        tenants are not special: retention is server-wide. Concurrent calls (several
        processes) never delete a row twice and never delete the latest run of a job.
        ``done`` is True when fewer than ``limit`` rows were looked at, or when every row
        looked at was created at or after ``before``."""

    async def prune_notifications(
        self, before: datetime, after_id: int, limit: int
    ) -> PruneBatch:
        """As ``prune_executions`` for notifications created before ``before``, with their
        deliveries; a notification not fanned out yet, or with a delivery still
        ``pending``, is kept."""


@dataclass(frozen=True, slots=True)
class LiveCounts:
    """Gauges for ``/metrics``: live runs and the notification outbox, read in one query."""

    runs: dict[tuple[str, str], int]  # (job type, "pending" | "running") -> count
    notifications_unfanned: int  # notifications not fanned out into deliveries yet
    deliveries_pending: dict[str, int]  # channel -> pending deliveries


class StatsStore(Protocol):
    async def live_counts(self) -> LiveCounts:
        """Counts of pending and running executions by job type, of notifications not fanned
        out and of pending deliveries by channel: one read statement served by the partial
        indexes on live rows, cheap enough for every scrape."""


# -- the dashboard's read models, and the whole store the services use -------------------------


@dataclass(frozen=True, slots=True)
class RunMark:
    """One run as the jobs table's run strip shows it (no output, no error text)."""

    id: int
    job_id: int
    status: str  # a RunStatus value
    scheduled_for: datetime
    attempt: int
    duration: int | None = None  # milliseconds, once it ended (the row's duration trend)


JOB_SORTS = ("name", "status", "last_run", "next_run", "duration")


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which of an environment's jobs the jobs table lists (every field empty: all of them).

    ``status``: "failed" (failing: status failed, or one of ``waiting``), "pending" (pending
    and not one of ``waiting``), "completed", "running", "paused", "muted", "active" (not
    paused); anything else: any. ``kind``: a job type ("" any). ``ids``: only these jobs
    (None: any; the name and tag filters' matches, chosen by the service). ``waiting``: the
    jobs whose retry waits (the dashboard shows them failing, not pending)."""

    status: str = ""
    kind: str = ""
    ids: tuple[int, ...] | None = None
    waiting: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class JobNaming:
    """What the jobs table's name filter searches in: a job's name and webhook URL."""

    id: int
    name: str
    webhook_url: str | None


@dataclass(frozen=True, slots=True)
class DayCount:
    """How many runs of a job were scheduled on one UTC day (``day``: days since 1970-01-01)
    with one status (``DashboardStore.run_days``)."""

    day: int
    status: str  # a RunStatus value
    count: int


@dataclass(frozen=True, slots=True)
class Attention:
    """A run the overview lists under "what needs you": late (``pending`` past its due time),
    expired, or skipped as missed; with its job's name."""

    id: int
    job_id: int
    job_name: str
    status: str  # a RunStatus value
    scheduled_for: datetime
    due_at: datetime
    error: str | None


@dataclass(frozen=True, slots=True)
class JobsAtGlance:
    """The jobs the overview shows, read without loading every job (issues 18 and 22)."""

    total: int
    paused: int
    failing: list[Job]  # failed, or pending with a retry counted (a retry may wait): all, by id
    next_due: list[Job]  # not paused, with a next run: soonest first (then id)
    auto_paused: list[Job]  # paused with a stored reason, by id
    muted: list[Job]  # by id


class DashboardStore(Protocol):
    async def count_runs_since(self, env_id: int, since: datetime) -> dict[str, int]:
        """How many executions of the environment are scheduled at or after ``since``, by
        status (statuses with none are absent): one grouped read for the overview."""

    async def recent_runs(
        self, env_id: int, job_ids: Sequence[int], per_job: int
    ) -> dict[int, list[RunMark]]:
        """The latest ``per_job`` executions (highest ids) of each of ``job_ids`` in the
        environment, oldest first, in ONE read statement (a top-N per job through the index
        on (job_id, id): its cost is the marks read, not the history). Jobs without runs, of
        another environment or unknown are absent; ``job_ids`` empty or ``per_job`` < 1
        reads nothing. A mark's ``duration`` is the run's (None while it has none)."""

    async def job_order(self, env_id: int, sort: str, descending: bool) -> list[int]:
        """The ids of the environment's jobs sorted by ``sort`` (one of ``JOB_SORTS``;
        anything else: by name), in ONE read statement. ``name``; ``status`` by how much it
        needs attention (failing — failed, or pending with a retry counted —, running,
        pending, completed); ``last_run`` / ``next_run`` by those instants; ``duration`` by
        the duration of the job's latest run that has one. Jobs with no value (never run, no
        next run, no duration) come last in both directions; ties by name then id, always
        ascending, so the order is stable."""

    async def job_counts(self, env_id: int, flt: JobFilter) -> tuple[int, int]:
        """(the environment's jobs, those ``flt`` selects), in ONE statement (a COUNT)."""

    async def job_page(
        self, env_id: int, flt: JobFilter, sort: str, descending: bool, offset: int, limit: int
    ) -> list[Job]:
        """The environment's jobs ``flt`` selects, in the order ``job_order`` gives for
        ``sort`` (anything else but one of ``JOB_SORTS``: by id, the order jobs were
        created), rows ``offset`` to ``offset + limit``: ONE statement, filters, sort and page
        in SQL, only the page's rows read. ``limit`` < 1: nothing."""

    async def job_targets(self, env_id: int) -> dict[int, dict[str, Any]]:
        """The targets of the environment's jobs that have one, by job id: ONE narrow read
        (command jobs only have targets; the tag filter and its options come from them)."""

    async def job_namings(self, env_id: int) -> list[JobNaming]:
        """Every job's id, name and webhook URL (by id): ONE narrow read, for a name filter
        that matches exactly as Python's ``str.lower`` does (SQL's ``lower`` differs on
        non-ASCII text, and from SQLite to PostgreSQL)."""

    async def retrying_jobs(self, env_id: int) -> list[Job]:
        """The environment's pending jobs with a retry counted (``retry_count`` > 0): those
        whose retry may wait, by id. ONE statement."""

    async def run_days(self, env_id: int, job_id: int, since: datetime) -> list[DayCount]:
        """The job's executions scheduled at or after ``since`` counted per UTC day and
        status, in ONE grouped read; nothing for a job of another environment."""

    async def runs_between(
        self, env_id: int, job_id: int, start: datetime, end: datetime, limit: int
    ) -> list[Run]:
        """The job's executions scheduled in ``[start, end)``, newest first (by scheduled
        time, then id), at most ``limit``; nothing for a job of another environment."""

    async def needs_attention(
        self, env_id: int, late_before: datetime, since: datetime, limit: int
    ) -> list[Attention]:
        """The environment's pending runs due before ``late_before`` (late: nothing took
        them; a heartbeat job's runs never: they wait for a ping until their grace ends), and
        its runs scheduled at or after ``since`` that expired or were skipped as missed (error
        starting "missed"); newest first (by scheduled time, then id), at most ``limit`` of
        each kind (so late runs never crowd out a missed one). Two index reads (the pending
        runs; the expired and skipped ones since ``since``), never a scan of the environment's
        runs."""

    async def jobs_at_glance(
        self, env_id: int, due: int, shown: int
    ) -> JobsAtGlance:
        """The environment's job counts (all, paused), its failing jobs (all), the ``due``
        unpaused jobs due soonest, and at most ``shown`` jobs paused with a reason and
        ``shown`` muted ones: a few small reads, only these jobs loaded."""
