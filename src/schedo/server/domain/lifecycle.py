"""The life of a run, as pure rules: which runs a tick makes, how a report or a deadline ends
a run, when it is retried, when its job turns failing or recovered, and how a run is given
back. Storage persists what these functions decide; it decides nothing itself.

Every change of an execution's status made here goes through ``transition`` (the table in
``model.TRANSITIONS``). Storage's set-based statements (the claim, which moves many pending
runs to running in one UPDATE) encode the same table in their WHERE clauses; the contract
suite checks them.

Time always comes in as an argument. SPEC section 3 (scheduling) and 4 (notifications) are
the rules; docs/semantics.md explains them to users.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from . import targets
from .errors import Conflict
from .hashed import jitter_offset, seed_of
from .model import (
    JobStatus,
    JobType,
    RunStatus,
    Source,
    Trigger,
    can_transition,
)
from .overlap import BLOCKED_ERROR as BLOCKED_ERROR  # re-exported (tests, callers)
from .overlap import HELD, Slots
from .pings import missed_reason
from .policies import (
    PICKUP_WINDOW_CAP_SECONDS,
    RUN_GRACE_SECONDS,
    pickup_deadline,
    retry_delay,
    will_retry,
)
from .records import Completion, Job, Run, run_with
from .timefmt import from_ms, to_ms

SKIP_NEXT_ERROR = "skipped: skip_next"


# -- the state machine ---------------------------------------------------------------------


def transition(ex: Run, new: RunStatus, **changes: Any) -> Run:
    """``ex`` in state ``new`` (with ``changes``); Conflict if the table forbids it."""
    if not can_transition(ex.status, new):
        raise Conflict(
            f"execution {ex.id} is {ex.status.value}: it cannot become {new.value}"
        )
    return run_with(ex, status=new, **changes)


# -- new runs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunDraft:
    """An execution to insert: everything but its id. Pending runs get a pick-up deadline;
    skipped ones are ended at once."""

    job: Job
    status: RunStatus
    source: Source
    scheduled_for: datetime
    attempt: int
    trigger: Trigger
    due_at: datetime
    pickup_deadline: datetime | None
    end_time: datetime | None
    error: str | None
    metadata: dict[str, Any]
    created_at: datetime
    payload: dict[str, Any] | None = None
    target_host: str | None = None  # where it runs (``targets.Lane``)
    target_tags: str | None = None


def draft(
    job: Job,
    *,
    status: RunStatus,
    source: Source,
    scheduled_for: datetime,
    trigger: Trigger,
    due_at: datetime,
    now: datetime,
    attempt: int = 1,
    error: str | None = None,
    metadata: dict[str, Any] | None = None,
    window_from: datetime | None = None,
    payload: dict[str, Any] | None = None,
    lane: targets.Lane | None = None,
) -> RunDraft:
    """A new run of ``job``. Its pick-up window starts at ``due_at`` unless ``window_from``
    says otherwise (a caught-up tick: when it was created). ``lane``: its (target_host,
    target_tags); by default the job's target (``targets.run_columns``)."""
    live = status is RunStatus.PENDING
    where = lane if lane is not None else targets.run_columns(job.target)
    start = window_from or due_at
    deadline = (start + timedelta(seconds=job.timeout_seconds)  # a heartbeat's grace
                if job.type is JobType.HEARTBEAT else
                pickup_deadline(start, job.timeout_seconds))
    return RunDraft(
        job=job, status=status, source=source, scheduled_for=scheduled_for, attempt=attempt,
        trigger=trigger, due_at=due_at,
        pickup_deadline=deadline if live else None,
        end_time=None if live else now, error=error,
        metadata=job.metadata if metadata is None else metadata, created_at=now,
        payload=payload,
        target_host=where[0], target_tags=where[1],
    )


@dataclass(frozen=True, slots=True)
class TickPlan:
    """What the scheduler decided for one due job (``scheduler.ticker.plan_job``).

    ``run``: instants that get an execution (attempt 1, trigger "schedule"), ascending.
    ``caught_up``: the instants of ``run`` that are missed ticks run late; their pick-up
    deadline is counted from ``now`` (when they are created), not from the instant.
    ``skipped_at``/``skipped_error``: one skipped execution recording missed ticks.
    ``next_run_at``: the job's next fire instant after ``now``.
    """

    run: Sequence[datetime]
    skipped_at: datetime | None
    skipped_error: str | None
    next_run_at: datetime | None
    caught_up: Sequence[datetime] = ()


@dataclass(frozen=True, slots=True)
class TickOutcome:
    """The rows one job's tick makes and the job's new scheduling state."""

    runs: list[RunDraft]
    next_run_at: datetime | None
    status: JobStatus
    retry_count: int
    last_run_at: datetime | None
    active: bool  # the job has a pending or running run afterwards
    skip_next: int = 0  # ticks still to skip (``skip_next``) afterwards
    paused_until: datetime | None = None  # the timed pause, cleared once it has passed


def tick_runs(job: Job, plan: TickPlan, now: datetime, active: bool,
              slots: Slots | None = None, lanes: Sequence[targets.Lane] | None = None,
              lane_slots: Mapping[str | None, Slots] | None = None) -> TickOutcome:
    """The runs of ``plan`` for ``job``: pending, except that a blocking job with a run
    still pending or running (``active``, or one made earlier in this tick) gets a skipped
    run instead; plus the skipped record of missed ticks. A pending run makes the job
    "pending" with last_run_at = its instant and retry_count 0.

    ``lanes`` (``targets.lanes``): where each instant runs, one run per lane (a job with
    target mode ``all``: one per connected matching agent's host); by default the job's one
    target. With ``lane_slots`` (the live runs by target_host) every lane has its own
    overlap policy: a run still active on host A skips or buffers only host A's next run.
    The tick itself (skip_next, the next instant, the missed-ticks record) counts once."""
    late = set(plan.caught_up)
    runs: list[RunDraft] = []
    last_pending: datetime | None = None
    skip = job.skip_next
    ways = list(lanes) if lanes else [targets.run_columns(job.target)]
    single = slots if slots is not None else Slots(active=int(active))
    seats: dict[str | None, Slots] = {k: replace_slots(v) for k, v in (lane_slots or {}).items()}
    for t in plan.run:
        if skip > 0:  # skip_next: recorded, never run, whatever else holds
            skip -= 1
            runs.append(draft(job, status=RunStatus.SKIPPED, source=Source.SCHEDULE,
                              scheduled_for=t, trigger=Trigger.SCHEDULE, due_at=t, now=now,
                              error=SKIP_NEXT_ERROR))
            continue
        for lane in ways:
            live = single if lane_slots is None else seats.setdefault(lane[0], Slots())
            d = _lane_run(job, t, lane, live, now, t in late)
            runs.append(d)
            if d.status is RunStatus.PENDING:
                last_pending = t
    used = [single] if lane_slots is None else list(seats.values())
    active = active or any(s.active > 0 for s in used)
    if plan.skipped_at is not None:
        runs.append(draft(job, status=RunStatus.SKIPPED, source=Source.SCHEDULE,
                          scheduled_for=plan.skipped_at, trigger=Trigger.SCHEDULE,
                          due_at=plan.skipped_at, now=now, error=plan.skipped_error))
    return TickOutcome(
        runs=runs,
        next_run_at=plan.next_run_at,
        status=JobStatus.PENDING if last_pending else job.status,
        retry_count=0 if last_pending else job.retry_count,
        last_run_at=last_pending or job.last_run_at,
        active=active,
        skip_next=skip,
        paused_until=None if job.paused_until is None or job.paused_until <= now
        else job.paused_until,
    )


def tick_written(job: Job, out: TickOutcome, made: Sequence[Run]) -> TickOutcome:
    """The job's state once its tick's rows are written, counting only the runs the insert
    made (``made``; an instant whose row existed already makes nothing): without a new
    pending run (a heartbeat job's early ping took the tick) the job keeps its status, retry
    count and last run; ``skip_next`` goes down by the skip records made, so an instant
    ticked before does not spend the count twice."""
    if out.status is JobStatus.PENDING and not any(
            e.status is RunStatus.PENDING for e in made):
        out = replace(out, status=job.status, retry_count=job.retry_count,
                      last_run_at=job.last_run_at)
    if job.skip_next:
        spent = sum(1 for e in made if e.error == SKIP_NEXT_ERROR)
        out = replace(out, skip_next=job.skip_next - spent)
    return out


def replace_slots(s: Slots) -> Slots:
    """A copy of ``s`` (the tick counts on its own copy)."""
    return Slots(active=s.active, held=s.held)


def _lane_run(job: Job, t: datetime, lane: targets.Lane, live: Slots, now: datetime,
              late: bool) -> RunDraft:
    """The run of instant ``t`` in one lane, as the lane's overlap policy decides."""
    run, hold, error = live.decide(job)  # the overlap policy (domain/overlap.py)
    if not run:
        return draft(job, status=RunStatus.SKIPPED, source=Source.SCHEDULE, scheduled_for=t,
                     trigger=Trigger.SCHEDULE, due_at=t, now=now, error=error, lane=lane)
    # jitter moves only when the run is due; its instant (the unique key) stays
    due = t + jitter_offset(seed_of(job.environment_id, job.name), t, job.jitter_seconds)
    if hold:  # buffered until the active run ends (run_rows.release_buffered)
        due = HELD
    return draft(job, status=RunStatus.PENDING, source=Source.SCHEDULE, scheduled_for=t,
                 trigger=Trigger.SCHEDULE, due_at=due, now=now,
                 window_from=max(now, due) if late else None, lane=lane)


def manual_run(job: Job, last_manual: datetime | None, now: datetime, active: bool,
               payload: dict[str, Any] | None = None) -> RunDraft:
    """A run now (trigger "manual"). Manual runs are keyed by their instant too: two in the
    same millisecond get consecutive milliseconds. A blocking job with a run pending or
    running refuses (Conflict: a manual run would overlap)."""
    if job.blocking and active:
        raise Conflict(
            f"job {job.id} is blocking and its previous run is still pending or running"
        )
    instant = now if last_manual is None or last_manual < now else (
        last_manual + timedelta(milliseconds=1))
    return draft(job, status=RunStatus.PENDING, source=Source.MANUAL, scheduled_for=instant,
                 trigger=Trigger.MANUAL, due_at=now, now=now, payload=payload)


def manual_fan_out(job: Job, last_manual: datetime | None, now: datetime,
                   busy_hosts: Collection[str | None], lanes: Sequence[targets.Lane],
                   payload: dict[str, Any] | None = None) -> list[RunDraft]:
    """A trigger of a job with target mode ``all``: one run now per lane (``targets.lanes``:
    each connected matching agent's host), all of one instant. A blocking job leaves out
    the hosts with a run still pending or running (``busy_hosts``) and refuses (Conflict)
    when that leaves none."""
    ways = [w for w in lanes if not (job.blocking and w[0] in busy_hosts)]
    if not ways:
        raise Conflict(
            f"job {job.id} is blocking and its previous run is still pending or running"
        )
    first = manual_run(job, last_manual, now, False, payload)
    return [replace(first, target_host=h, target_tags=tg) for h, tg in ways]


# -- ends ----------------------------------------------------------------------------------


def end_run(ex: Run, report: Completion, now: datetime) -> tuple[Run, bool]:
    """The execution as a report ends it, and whether anything changed. An ended execution:
    the same outcome again -> (it, False), harmless; another -> Conflict. Times are kept at
    the store's millisecond precision; a start after the end is moved to the end."""
    want = RunStatus.COMPLETED if report.success else RunStatus.FAILED
    if ex.status.terminal:
        if ex.status is want:
            return ex, False
        raise Conflict(
            f"execution {ex.id} already ended as {ex.status.value}; "
            f"a report of {want.value} is refused"
        )
    end = from_ms(to_ms(report.end_time or now))
    start = from_ms(to_ms(report.start_time or ex.pick_up_time or ex.due_at))
    start = min(start, end)
    done = transition(
        ex, want, start_time=start, end_time=end,
        duration=int((end - start).total_seconds() * 1000),
        output=report.output, error=report.error, exit_code=report.exit_code,
    )
    return done, True


def expiry_reason(ex: Run) -> str:
    """Why a live run expires, in the words the user reads on it."""
    if ex.job_type is JobType.HEARTBEAT:
        return missed_reason(ex)
    if ex.pick_up_time is None:
        window = min(ex.timeout_seconds, PICKUP_WINDOW_CAP_SECONDS)
        who = targets.describe(ex.target_host, ex.target_tags) or "no worker connected?"
        return (f"expired: not picked up within {window}s of becoming due "
                f"({who})")
    return (f"expired: no result reported within timeout "
            f"({ex.timeout_seconds}s + {RUN_GRACE_SECONDS}s grace)")


def expire(ex: Run, now: datetime) -> Run:
    """A live run past its deadline, expired with its reason."""
    return transition(ex, RunStatus.EXPIRED, end_time=now, error=expiry_reason(ex))


def cancel(ex: Run, now: datetime, reason: str | None = None) -> Run:
    """A pending or running run ended on request: ``cancelled``, never retried, no health
    turn. An ended run refuses (Conflict, naming its status)."""
    if ex.status.terminal:
        raise Conflict(
            f"execution {ex.id} already ended as {ex.status.value}; it cannot be cancelled"
        )
    end = from_ms(to_ms(now))
    start = ex.start_time or ex.pick_up_time
    duration = None if start is None else max(0, int((end - start).total_seconds() * 1000))
    why = "cancelled on request" + (f": {reason}" if reason else "")
    return transition(ex, RunStatus.CANCELLED, end_time=end, duration=duration, error=why)


def release(ex: Run, now: datetime) -> Run:
    """A claimed run that reached no one, pending again with a new pick-up window."""
    return transition(ex, RunStatus.PENDING, pick_up_time=None, start_time=None,
                      run_deadline=None, worker=None,
                      pickup_deadline=pickup_deadline(now, ex.timeout_seconds))


def retry_of(ex: Run, job: Job, now: datetime,
             rng: random.Random | None = None) -> RunDraft | None:
    """The next attempt of a failed or expired run, due after the backoff, if the job still
    allows one (None otherwise). Same tick (source, instant), attempt + 1, trigger "retry",
    the ended attempt's metadata and target (a run of a mode ``all`` job on host B is
    retried on host B only)."""
    if not retryable(ex):
        return None
    if not will_retry(ex.attempt, job.max_retries):
        return None
    due = now + timedelta(seconds=retry_delay(ex.attempt, rng))
    return draft(job, status=RunStatus.PENDING, source=Source(ex.source),
                 scheduled_for=ex.scheduled_for, attempt=ex.attempt + 1,
                 trigger=Trigger.RETRY, due_at=due, now=now, metadata=ex.metadata,
                 payload=ex.payload, lane=(ex.target_host, ex.target_tags))


# -- the job's health ----------------------------------------------------------------------


def job_mirror(ex: Run) -> tuple[JobStatus, int] | None:
    """The (status, retry_count) an ended or released run gives its job while it is the
    job's latest non-skipped run; None for skipped runs, which never drive the status."""
    if ex.status is RunStatus.SKIPPED:
        return None
    return ex.status.job_status, ex.attempt - 1


def retryable(ex: Run) -> bool:
    """Whether an ended run may have a next attempt (failed or expired; its job decides)."""
    return ex.status in (RunStatus.FAILED, RunStatus.EXPIRED)


def retries(ended: Sequence[Run], jobs: Mapping[int, Job], now: datetime) -> list[RunDraft]:
    """The next attempts of ``ended`` (``retry_of``); ``jobs``: theirs by id (a job deleted
    meanwhile retries nothing)."""
    return [d for e in ended if e.job_id in jobs
            if (d := retry_of(e, jobs[e.job_id], now)) is not None]


def retry_mirror(d: RunDraft) -> tuple[JobStatus, int]:
    """(status, retry_count) a retry gives its job: pending, with the retries used so far."""
    return JobStatus.PENDING, d.attempt - 1


def trigger_mirror(now: datetime) -> tuple[JobStatus, int, datetime]:
    """(status, retry_count, last_run_at) a manual trigger gives its job."""
    return JobStatus.PENDING, 0, now
