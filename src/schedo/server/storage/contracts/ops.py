"""Retention, operational statistics, the dashboard's read models, and the whole store
the services use.

Part of the storage contract; the rules that hold for every method are in
``storage/contracts/__init__.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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


class DashboardStore(Protocol):
    async def count_runs_since(self, env_id: int, since: datetime) -> dict[str, int]:
        """How many executions of the environment are scheduled at or after ``since``, by
        status (statuses with none are absent): one grouped read for the overview."""

    async def recent_runs(
        self, env_id: int, job_ids: Sequence[int], per_job: int
    ) -> dict[int, list[RunMark]]:
        """The latest ``per_job`` executions (highest ids) of each of ``job_ids`` in the
        environment, oldest first, in ONE read statement (``ROW_NUMBER()`` over the job's
        executions by id, on both databases). Jobs without runs, of another environment or
        unknown are absent; ``job_ids`` empty or ``per_job`` < 1 reads nothing."""
