"""Jobs, executions, claims, workers and the scheduler: their storage protocols and promises.

Part of the storage contract; the rules that hold for every method are in
``storage/contracts/__init__.py``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ...domain.audit import Actor
from ...domain.errors import Conflict, NotFound
from ...domain.lifecycle import TickPlan
from ...domain.records import (
    Completion,
    Job,
    JobSpec,
    Run,
)
from ...domain.targets import AgentMatch


@dataclass(frozen=True, slots=True)
class TickResult:
    jobs: int  # due jobs handled
    created: list[Run]  # executions created (pending and skipped)
    cancelled: list[Run] = field(default_factory=list)  # ended by overlap=cancel_other


# what to create for one due job, decided by the scheduler (pure: no I/O)
Planner = Callable[[Job], TickPlan]


class JobStore(Protocol):
    async def job_with_last_run(
        self, env_id: int, job_id: int, connections_since: datetime
    ) -> tuple[Job, Run | None, int]:
        """The job (NotFound as ``get_job``), its latest execution that is not skipped (the
        run ``GET /jobs/{id}`` shows) and its worker connections seen since
        ``connections_since`` (as ``WorkerStore.count_connections`` counts them for its
        name), in one read."""

    async def upsert_job(
        self,
        env_id: int,
        spec: JobSpec,
        now: datetime,
        next_run_at: datetime | None,
        schedule_changed: bool,
        actor: Actor | None = None,
    ) -> tuple[Job, bool]:
        """Create the job or update the one with the same name in the environment, keeping
        its id, paused, muted and history. ``next_run_at`` is stored when the job is new or
        ``schedule_changed`` (and the job is not paused) and the stored schedule, read in this
        transaction, really differs from ``spec``'s (expression, zone, extra crons): a caller
        that judged "changed" on an older read never re-anchors a schedule a concurrent
        define already stored, which would drop its ticks not yet made. Otherwise the stored
        next_run_at and anchor are kept. Returns (job, created). With an ``actor``, records
        "created", or "changed" with the fields that changed (``domain.audit.job_changes``;
        nothing when none did), in the same transaction."""

    async def get_job(self, env_id: int, job_id: int) -> Job:
        """NotFound unless the job exists in the environment."""

    async def get_job_by_name(self, env_id: int, name: str) -> Job | None:
        """The job of that name in the environment, or None."""

    async def list_jobs(self, env_id: int) -> list[Job]:
        """The environment's jobs by id."""

    async def delete_job(
        self, env_id: int, job_id: int, actor: Actor | None = None,
        now: datetime | None = None,
    ) -> None:
        """Delete the job and all of its executions (its audit events stay); with an
        ``actor`` and ``now``, records "deleted". NotFound as for get_job."""

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
        actor: Actor | None = None,
    ) -> Job:
        """Change paused/muted/webhook (None leaves a flag alone). With an ``actor``, records
        "paused"/"resumed"/"muted"/"unmuted"/"changed" with the changed fields, unless
        nothing changed. When ``paused`` is given,
        ``next_run_at`` is stored with it (None while paused) and a timed pause
        (``paused_until``) is cleared. ``set_webhook`` stores
        ``webhook_url`` (None clears it) and sets the type to push / sdk accordingly."""

    async def set_timed_pause(
        self, env_id: int, job_id: int, now: datetime, until: datetime | None,
        next_run_at: datetime | None, actor: Actor | None = None,
    ) -> Job:
        """Store a timed pause (``until``; None: no timed pause) with the job's new
        ``next_run_at`` (the caller computed it: its first tick at or after ``until``) and
        lift an indefinite pause (``paused`` false), in one write. NotFound unless the job
        is in the environment."""

    async def set_skip_next(
        self, env_id: int, job_id: int, now: datetime, count: int, actor: Actor | None = None,
    ) -> Job:
        """Set how many of the job's next ticks are skipped (replaces the count; the ticker
        counts it down in its tick transaction). NotFound unless the job is in the
        environment."""


class ExecutionStore(Protocol):
    async def list_executions(
        self, env_id: int, job_id: int, cursor: int | None, limit: int
    ) -> list[Run]:
        """Executions of the job, newest first, ids < cursor. NotFound if the job is not in
        the environment."""

    async def run_views(
        self, env_id: int, job_id: int, cursor: int | None, limit: int
    ) -> list[Sequence[Any]]:
        """The same executions as ``list_executions`` as rows of ``run_views.VIEW_COLUMNS``
        (the API's list answer, without a ``Run`` per row): stored times as epoch
        milliseconds (None when unset), JSON columns parsed. NotFound if the job is not in
        the environment."""

    async def get_execution(self, env_id: int, exec_id: int) -> Run:
        """NotFound unless the execution is in the environment."""

    async def last_run(self, env_id: int, job_id: int) -> Run | None:
        """The job's latest non-skipped execution."""

    async def trigger(
        self, env_id: int, job_id: int, now: datetime, payload: dict[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> Run:
        """Create a manual run due now (attempt 1, trigger "manual") carrying ``payload``
        (with an ``actor``, records "triggered" with the run's id)
        (stored as given; its retries carry it too). Conflict if the job is
        blocking and has a pending or running execution. NotFound as for get_job."""

    async def complete(
        self, env_id: int, exec_id: int, report: Completion, now: datetime
    ) -> tuple[Run, bool]:
        """End a pending or running execution as completed/failed. Returns (execution,
        changed). Repeating the outcome an ended execution already has returns it unchanged
        (changed False); any other report on an ended execution raises Conflict. A failure
        creates the retry when the job allows one (see SchedulerStore.expire_overdue)."""

    async def complete_many(
        self, env_id: int, reports: Sequence[tuple[int, Completion]], now: datetime
    ) -> list[tuple[int, tuple[Run, bool] | NotFound | Conflict]]:
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
        worker: str | None = None,
        agent: AgentMatch | None = None,
    ) -> list[Run]:
        """Atomically claim up to ``limit`` pending executions of the environment whose job
        code is in ``codes`` (None: any code), job type in ``types`` and due_at <= now, oldest
        due first: status running, pick_up_time = start_time = now,
        run_deadline = now + timeout + 5 s. One statement (UPDATE … WHERE id IN (SELECT …
        [FOR UPDATE SKIP LOCKED]) AND status = 'pending' RETURNING): an execution is never
        returned to two callers. With ``key_id``, the same statement claims nothing unless
        that key is unrevoked and the environment still exists (a stream or long poll whose
        key was revoked meanwhile, in any process, gets nothing more). ``worker`` (the
        puller's id) is stored on the claimed runs (``Run.worker``); a release clears it.
        Command runs (``types`` naming command) are claimed only where their target lets
        ``agent`` take them (``domain/targets.py``; None: untargeted runs only)."""

    async def release(self, env_id: int, ids: Sequence[int], now: datetime) -> list[Run]:
        """Give claimed runs back (a stream's client went away before they were sent): each
        of ``ids`` that is still running in the environment becomes pending again, with no
        pick-up time and a new pick-up window from ``now``; the job status follows. Returns
        the released executions."""

    async def earliest_pending_due(
        self, env_id: int, codes: Sequence[str] | None, types: Sequence[str],
        agent: AgentMatch | None = None,
    ) -> datetime | None:
        """The earliest due_at of a pending execution matching the filters (retries wait in
        the future; ``agent`` as for ``claim``), so a long poll can sleep exactly until
        then."""


    async def claim_any(
        self, types: Sequence[str], now: datetime, limit: int
    ) -> list[tuple[Run, str | None, str]]:
        """Like ``claim`` over every environment and job code (the push dispatcher). Returns
        each claimed execution with its job's webhook_url and its environment's
        webhook_signature_key."""

    async def earliest_due_of_types(self, types: Sequence[str]) -> datetime | None:
        """The earliest due_at of a pending execution of these job types."""


class WorkerStore(Protocol):
    async def touch_connections(
        self, env_id: int, codes: Sequence[str], worker: str, now: datetime,
        agent: AgentMatch | None = None,
    ) -> None:
        """Record that ``worker`` serves ``codes`` in the environment as of ``now`` (upsert of
        one row per code; shared by every server process). Also a heartbeat."""

    async def heartbeat(self, env_id: int, worker: str, now: datetime,
                        agent: AgentMatch | None = None) -> None:
        """Record that ``worker`` is connected as of ``now`` (one row, upserted), with the
        host and tags an agent announced (``agent``; None: an sdk worker, none recorded).
        A tick of a job whose target has mode "all" makes one run per distinct host of the
        agents connected then (heartbeat within ``targets.CONNECTED_WITHIN``) whose tags
        include the target's."""

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
    async def earliest_next_run_at(self, skip: Collection[int] = ()) -> datetime | None:
        """The smallest next_run_at over all unpaused jobs (but those whose id is in
        ``skip``: set aside, so the ticker does not wake for them)."""

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
    ) -> list[Run]:
        """Expire pending executions past their pick-up deadline and running ones past their
        run deadline, create their retries (attempt+1, trigger "retry", due after the
        backoff) where max_retries allows, update job status; return the expired ones (at
        most a batch of 1,000: call again until it returns none). A deadline earlier than
        ``held_before`` is left alone (the restart grace: it passed while no server ran);
        ids in ``skip`` are left alone; with ``only``, just those ids (if still overdue)."""

    async def earliest_deadline(
        self, not_before: datetime | None = None, skip: Collection[int] = ()
    ) -> datetime | None:
        """The nearest pick-up or run deadline of a live execution, ignoring deadlines
        earlier than ``not_before`` (the reaper sleeps until then) and executions whose id
        is in ``skip`` (set aside)."""


# -- notifications (SPEC 4) ----------------------------------------------------------------------
