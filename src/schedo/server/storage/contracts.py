"""Repository protocols: the whole contract between the services and the database.

Every method is one transaction. Tenant-owned calls take the environment (or organisation)
and never read or touch rows of another one: a foreign id behaves exactly like a missing id
(``NotFound``). Times passed in are aware datetimes from the caller's clock; storage never
reads the wall clock itself. One implementation (``sql.SqlStore``) serves SQLite and
PostgreSQL; the contract tests in tests/contract run against both.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..domain.errors import Conflict, NotFound
from ..domain.lifecycle import TickPlan
from ..domain.records import (
    ApiKey,
    Completion,
    Environment,
    Execution,
    Job,
    JobSpec,
    Organization,
)


@dataclass(frozen=True, slots=True)
class TickResult:
    jobs: int  # due jobs handled
    created: list[Execution]  # executions created (pending and skipped)


# what to create for one due job, decided by the scheduler (pure: no I/O)
Planner = Callable[[Job], TickPlan]


class OrgStore(Protocol):
    async def bootstrap(
        self,
        *,
        org_name: str,
        env_name: str,
        signature_key: str,
        admin_prefix: str,
        admin_digest: str,
        pepper: str,
        now: datetime,
    ) -> bool:
        """On an empty database create organisation 1, environment 1, the admin key and the
        key pepper, and return True. On a database that already has organisation 1, change
        nothing and return False. Safe to call from several processes at once."""

    async def get_meta(self, key: str) -> str | None:
        """The value stored under ``key`` in server_meta, or None."""

    async def get_org(self, org_id: int) -> Organization:
        """The organisation; NotFound if absent."""

    async def create_org(self, name: str, now: datetime) -> Organization:
        """A new organisation (used by tests and future multi-tenant setups)."""

    async def list_emails(self, org_id: int) -> list[str]:
        """The notification addresses of the organisation, in the order they were added."""

    async def add_email(self, org_id: int, email: str, now: datetime) -> list[str]:
        """Add the address (no-op if present); return the list."""

    async def remove_email(self, org_id: int, email: str) -> list[str]:
        """Remove the address (no-op if absent); return the list."""


class EnvironmentStore(Protocol):
    async def create_environment(
        self, org_id: int, name: str, signature_key: str, now: datetime
    ) -> Environment:
        """A new environment of the organisation."""

    async def list_environments(self, org_id: int) -> list[Environment]:
        """The organisation's environments, oldest first."""

    async def get_environment(self, org_id: int, env_id: int) -> Environment:
        """NotFound unless the environment exists and belongs to ``org_id``."""

    async def delete_environment(self, org_id: int, env_id: int) -> Environment:
        """Delete the environment with its jobs, executions and keys. NotFound as above;
        Conflict if it is the organisation's last environment."""


class KeyStore(Protocol):
    async def create_key(
        self,
        *,
        org_id: int,
        env_id: int | None,
        name: str,
        prefix: str,
        digest: str,
        admin: bool,
        internal: bool,
        now: datetime,
    ) -> ApiKey:
        """Store a key (digest only; the secret never reaches storage)."""

    async def find_key(self, prefix: str) -> ApiKey | None:
        """The key with this lookup prefix, revoked or not, or None. Never cached: revocation
        takes effect on the next request."""

    async def resolve_key(
        self, prefix: str, wanted_env: int | None
    ) -> tuple[ApiKey, int | None] | None:
        """One read for authentication: the key with this lookup prefix (revoked or not) and
        an environment of the key's organisation: ``wanted_env`` if it belongs to that
        organisation (else None), or the organisation's first environment when
        ``wanted_env`` is None. None when no key has this prefix."""

    async def access_alive(self, key_id: int, env_id: int) -> bool:
        """Whether the key is unrevoked and the environment exists (an open stream or long
        poll checks this when access changed somewhere)."""

    async def list_keys(self, org_id: int, env_id: int) -> list[ApiKey]:
        """The environment keys of one environment of the organisation."""

    async def revoke_key(
        self, org_id: int, key_id: int, env_id: int | None, now: datetime
    ) -> ApiKey:
        """Mark the key revoked (idempotent). ``env_id`` restricts the search to one
        environment's keys (environment-key callers); None allows every key of the org.
        NotFound if no such key in scope; Conflict if it is the organisation's last
        unrevoked admin key (nothing could then make another)."""

    async def rotate_admin_key(
        self, org_id: int, prefix: str, digest: str, now: datetime
    ) -> tuple[ApiKey, int]:
        """Store a new admin key and revoke every other admin key of the organisation, in one
        transaction; return it and the number revoked. Conflict on PostgreSQL while a server
        process serves the database (offline command: ``schedo admin-key --rotate``)."""


class JobStore(Protocol):
    async def upsert_job(
        self,
        env_id: int,
        spec: JobSpec,
        now: datetime,
        next_run_at: datetime | None,
        schedule_changed: bool,
    ) -> tuple[Job, bool]:
        """Create the job or update the one with the same name in the environment, keeping
        its id, paused, muted and history. ``next_run_at`` is stored when the job is new or
        ``schedule_changed`` (and the job is not paused); otherwise the stored one is kept.
        Returns (job, created)."""

    async def get_job(self, env_id: int, job_id: int) -> Job:
        """NotFound unless the job exists in the environment."""

    async def get_job_by_name(self, env_id: int, name: str) -> Job | None:
        """The job of that name in the environment, or None."""

    async def list_jobs(self, env_id: int) -> list[Job]:
        """The environment's jobs by id."""

    async def delete_job(self, env_id: int, job_id: int) -> None:
        """Delete the job and all of its executions. NotFound as for get_job."""

    async def update_job_flags(
        self,
        env_id: int,
        job_id: int,
        now: datetime,
        *,
        paused: bool | None = None,
        muted: bool | None = None,
        next_run_at: datetime | None = None,
        webhook_url: str | None = None,
        set_webhook: bool = False,
    ) -> Job:
        """Change paused/muted/webhook (None leaves a flag alone). When ``paused`` is given,
        ``next_run_at`` is stored with it (None while paused). ``set_webhook`` stores
        ``webhook_url`` (None clears it) and sets the type to push / sdk accordingly."""


class ExecutionStore(Protocol):
    async def list_executions(
        self, env_id: int, job_id: int, cursor: int | None, limit: int
    ) -> list[Execution]:
        """Executions of the job, newest first, ids < cursor. NotFound if the job is not in
        the environment."""

    async def get_execution(self, env_id: int, exec_id: int) -> Execution:
        """NotFound unless the execution is in the environment."""

    async def last_run(self, env_id: int, job_id: int) -> Execution | None:
        """The job's latest non-skipped execution."""

    async def trigger(self, env_id: int, job_id: int, now: datetime) -> Execution:
        """Create a manual run due now (attempt 1, trigger "manual"). Conflict if the job is
        blocking and has a pending or running execution. NotFound as for get_job."""

    async def complete(
        self, env_id: int, exec_id: int, report: Completion, now: datetime
    ) -> tuple[Execution, bool]:
        """End a pending or running execution as completed/failed. Returns (execution,
        changed). Repeating the outcome an ended execution already has returns it unchanged
        (changed False); any other report on an ended execution raises Conflict. A failure
        creates the retry when the job allows one (see SchedulerStore.expire_overdue)."""

    async def complete_many(
        self, env_id: int, reports: Sequence[tuple[int, Completion]], now: datetime
    ) -> list[tuple[int, tuple[Execution, bool] | NotFound | Conflict]]:
        """``complete`` for many executions in one transaction (the batch report of
        workers). Each report gets its own outcome, in order: (execution, changed), or the
        NotFound / Conflict that ``complete`` would have raised; one bad report never
        affects the others."""


class ClaimStore(Protocol):
    async def claim(
        self,
        env_id: int,
        codes: Sequence[str] | None,
        types: Sequence[str],
        now: datetime,
        limit: int,
        key_id: int | None = None,
    ) -> list[Execution]:
        """Atomically claim up to ``limit`` pending executions of the environment whose job
        code is in ``codes`` (None: any code), job type in ``types`` and due_at <= now, oldest
        due first: status running, pick_up_time = start_time = now,
        run_deadline = now + timeout + 5 s. One statement (UPDATE … WHERE id IN (SELECT …
        [FOR UPDATE SKIP LOCKED]) AND status = 'pending' RETURNING): an execution is never
        returned to two callers. With ``key_id``, the same statement claims nothing unless
        that key is unrevoked and the environment still exists (a stream or long poll whose
        key was revoked meanwhile, in any process, gets nothing more)."""

    async def release(self, env_id: int, ids: Sequence[int], now: datetime) -> list[Execution]:
        """Give claimed runs back (a stream's client went away before they were sent): each
        of ``ids`` that is still running in the environment becomes pending again, with no
        pick-up time and a new pick-up window from ``now``; the job status follows. Returns
        the released executions."""

    async def earliest_pending_due(
        self, env_id: int, codes: Sequence[str] | None, types: Sequence[str]
    ) -> datetime | None:
        """The earliest due_at of a pending execution matching the filters (retries wait in
        the future), so a long poll can sleep exactly until then."""


    async def claim_any(
        self, types: Sequence[str], now: datetime, limit: int
    ) -> list[tuple[Execution, str | None, str]]:
        """Like ``claim`` over every environment and job code (the push dispatcher). Returns
        each claimed execution with its job's webhook_url and its environment's
        webhook_signature_key."""

    async def earliest_due_of_types(self, types: Sequence[str]) -> datetime | None:
        """The earliest due_at of a pending execution of these job types."""


class WorkerStore(Protocol):
    async def touch_connections(
        self, env_id: int, codes: Sequence[str], worker: str, now: datetime
    ) -> None:
        """Record that ``worker`` serves ``codes`` in the environment as of ``now`` (upsert of
        one row per code; shared by every server process). Also a heartbeat."""

    async def heartbeat(self, env_id: int, worker: str, now: datetime) -> None:
        """Record that ``worker`` is connected as of ``now`` (one row, upserted)."""

    async def drop_connections(self, env_id: int, codes: Sequence[str], worker: str) -> None:
        """Forget the worker's rows for these codes (its stream closed)."""

    async def count_connections(
        self, env_id: int, codes: Sequence[str], since: datetime
    ) -> dict[str, int]:
        """For each code, how many distinct workers that named it have a heartbeat at or
        after ``since`` (codes with none are absent)."""

    async def prune_connections(self, before: datetime) -> int:
        """Delete code rows and heartbeats last written before ``before``; return how many."""


class SchedulerStore(Protocol):
    async def earliest_next_run_at(self) -> datetime | None:
        """The smallest next_run_at over all unpaused jobs."""

    async def tick(
        self, now: datetime, limit: int, planner: Planner, skip: Collection[int] = ()
    ) -> TickResult:
        """Handle up to ``limit`` unpaused jobs with next_run_at <= now, oldest due first, in
        one transaction: call ``planner`` (pure, no I/O) for each, insert the executions it
        asks for and store its next_run_at. Inserted runs are pending, except that a blocking
        job with a pending or running execution (or a second run in the same batch) gets a
        skipped execution instead ("previous run still active"). The unique key (job,
        source, instant, attempt) makes every insert idempotent, and on PostgreSQL the due
        rows are locked with SKIP LOCKED, so concurrent schedulers never create a tick
        twice. A created pending run makes the job "pending" with last_run_at = its instant
        and retry_count 0. Jobs whose id is in ``skip`` (set aside after a failure) are not
        touched."""

    async def overdue_ids(
        self,
        now: datetime,
        *,
        held_before: datetime | None = None,
        skip: Collection[int] = (),
        limit: int = 1000,
    ) -> list[int]:
        """Up to ``limit`` ids of the executions ``expire_overdue`` would expire (read only:
        the reaper uses it to find a row that makes a batch fail)."""

    async def expire_overdue(
        self,
        now: datetime,
        *,
        held_before: datetime | None = None,
        skip: Collection[int] = (),
        only: Sequence[int] | None = None,
    ) -> list[Execution]:
        """Expire pending executions past their pick-up deadline and running ones past their
        run deadline, create their retries (attempt+1, trigger "retry", due after the
        backoff) where max_retries allows, update job status; return the expired ones (at
        most a batch of 1,000: call again until it returns none). A deadline earlier than
        ``held_before`` is left alone (the restart grace: it passed while no server ran);
        ids in ``skip`` are left alone; with ``only``, just those ids (if still overdue)."""

    async def earliest_deadline(self, not_before: datetime | None = None) -> datetime | None:
        """The nearest pick-up or run deadline of a live execution, ignoring deadlines
        earlier than ``not_before`` (the reaper sleeps until then)."""


# -- notifications (SPEC 4) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    """One turn of a job (an outbox row written by the transaction that ended the run)."""

    id: int
    kind: str  # "failing" | "recovered"
    organization_id: int
    environment_id: int
    job_id: int
    job_name: str
    execution_id: int
    execution_status: str  # the run's status: "completed" | "failed" | "expired"
    attempt: int
    scheduled_for: datetime
    ended_at: datetime  # the run's end_time (the turn's time if the run is gone)
    error: str | None
    output: str | None  # the start of the run's output
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One channel/target of a notification and how sending it went."""

    id: int
    notification_id: int
    channel: str  # "email" | "webhook"
    target: str  # the address or the URL
    status: str  # "pending" | "sent" | "failed" | "skipped"
    tries: int  # attempts started so far
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A claimed delivery with the notification it carries (``NotifyStore.due_deliveries``)."""

    delivery: Delivery
    notification: Notification
    environment_name: str | None  # None when the environment was deleted meanwhile


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """A notification with all of its deliveries (``NotifyStore.list_notifications``)."""

    notification: Notification
    deliveries: list[Delivery]


@dataclass(frozen=True, slots=True)
class NotifyWork:
    """What the notifier has to do (``NotifyStore.notify_work``)."""

    unfanned: bool  # notifications without deliveries yet
    next_attempt_at: datetime | None  # the earliest pending delivery (may be in the past)


class NotifyStore(Protocol):
    """The notification outbox. Rows of ``notifications`` are written by ``complete`` and
    ``expire_overdue`` (one per turn of an unmuted job); this protocol turns them into
    deliveries and tracks the sending. Delivery statuses: ``pending`` (to send, possibly
    later), ``sent``, ``failed`` (given up) and ``skipped`` (never sent, e.g. no SMTP)."""

    async def fan_out(self, now: datetime, webhook_url: str | None, limit: int) -> int:
        """Take up to ``limit`` notifications not fanned out yet (oldest first; SKIP LOCKED
        on PostgreSQL) and, in one transaction, insert one pending delivery (tries 0,
        next_attempt_at ``now``) per address in the notification's organisation's email
        list at this moment (channel "email") plus one for ``webhook_url`` if given
        (channel "webhook"), then mark them fanned out. Inserts ignore an existing
        (notification, channel, target) row, so a delivery is never created twice; a crash
        leaves both the deliveries and the mark, or neither. Returns how many notifications
        were fanned out."""

    async def due_deliveries(
        self, now: datetime, limit: int, lease_seconds: float = 120.0
    ) -> list[DueDelivery]:
        """Claim up to ``limit`` pending deliveries with next_attempt_at <= now (earliest
        first): in the same transaction (one UPDATE … WHERE id IN (SELECT … [FOR UPDATE SKIP
        LOCKED]) AND status = 'pending' RETURNING) their next_attempt_at becomes ``now +
        lease_seconds`` and tries grows by one, so no other sender (thread or process) gets
        them until the lease ends. A sender that crashes mid-send thus retries after the
        lease; one that finishes records the outcome with a ``mark_*`` call. Returns each
        claimed delivery (tries already counting this attempt) with its notification."""

    async def mark_sent(self, delivery_id: int, now: datetime) -> bool:
        """A pending delivery went out: status sent, sent_at ``now``, last_error cleared.
        Compare-and-swap on status pending: returns False (and changes nothing) otherwise."""

    async def mark_retry(
        self, delivery_id: int, error: str, next_attempt_at: datetime
    ) -> bool:
        """A pending delivery failed for now: keep it pending, record ``error`` and try again
        at ``next_attempt_at``. Returns False if it was not pending."""

    async def mark_failed(self, delivery_id: int, error: str) -> bool:
        """Give a pending delivery up: status failed, last_error ``error``. Returns False if
        it was not pending."""

    async def mark_skipped(self, delivery_id: int, reason: str) -> bool:
        """A pending delivery will never be sent (e.g. no SMTP server configured): status
        skipped, last_error ``reason``, and tries one less (the claim that led here was not a
        try). Returns False if it was not pending."""

    async def notify_work(self) -> NotifyWork:
        """Whether notifications wait to be fanned out, and the earliest next_attempt_at of a
        pending delivery (both from partial indexes: cheap enough to poll)."""

    async def list_notifications(
        self, org_id: int, limit: int, env_id: int | None = None
    ) -> list[NotificationRecord]:
        """The organisation's notifications, newest first, at most ``limit``, each with its
        deliveries (oldest first). ``env_id`` restricts them to one environment (environment
        keys); None returns every environment of the organisation. Never another
        organisation's."""


class Store(
    OrgStore,
    EnvironmentStore,
    KeyStore,
    JobStore,
    ExecutionStore,
    ClaimStore,
    WorkerStore,
    SchedulerStore,
    NotifyStore,
    Protocol,
):
    async def ping(self) -> None:
        """Raise if the database cannot be reached."""

    async def write_failure(self) -> str | None:
        """Why the database cannot take writes now (disk full, read-only, I/O error), or
        None. Makes a tiny real write at most every few seconds to find out; a failure seen
        by any other write counts until a later write commits."""

    async def close(self) -> None:
        """Release every connection."""


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


class DashboardStore(Protocol):
    async def count_runs_since(self, env_id: int, since: datetime) -> dict[str, int]:
        """How many executions of the environment are scheduled at or after ``since``, by
        status (statuses with none are absent): one grouped read for the overview."""


class ServiceStore(Store, RetentionStore, DashboardStore, Protocol):
    """Everything ``services`` asks of storage (``services.context.Services.store``)."""
