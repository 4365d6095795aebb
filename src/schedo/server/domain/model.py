"""Plain domain types: job types, execution states and the allowed transitions.

Pure Python: no I/O, no framework imports.
"""

from __future__ import annotations

from enum import StrEnum


class JobType(StrEnum):
    SDK = "sdk"
    PUSH = "push"
    COMMAND = "command"
    HEARTBEAT = "heartbeat"  # Schedo runs nothing: an outside job pings (domain/pings.py)


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # extension: ended on request (issue 21)

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def job_status(self) -> JobStatus:
        """The job status an execution in this state gives its job (expired counts as failed;
        so does cancelled: the hosted API's job status has no such value, and the run did not
        complete. Neither turns the job's health: see ``alerts.after_run``)."""
        if self in (RunStatus.EXPIRED, RunStatus.CANCELLED):
            return JobStatus.FAILED
        if self is RunStatus.SKIPPED:  # skipped runs never drive the job status
            raise ValueError("skipped executions do not set the job status")
        return JobStatus(self.value)


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"
    PING = "ping"  # a heartbeat job's run made by a ping that found no run waiting
    BACKFILL = "backfill"  # a past instant created on request (POST /jobs/{id}/backfill)
    RERUN = "rerun"  # a past instant run again as its next attempt
    CHAIN = "chain"  # its upstream jobs ended (domain/chains.py)


class Source(StrEnum):
    """Which series of instants a run belongs to: the schedule's ticks (and their retries
    and catch-up records), or manual triggers. Part of the exactly-once key, so a manual run
    never collides with a tick."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    CHAIN = "chain"  # runs caused by upstream ends (domain/chains.py); instant: the last end


class Health(StrEnum):
    """A job's health for notifications (None while it has never ended a run)."""

    OK = "ok"
    FAILING = "failing"


class NoticeKind(StrEnum):
    """The notice a turn of a job's health sends (SPEC 4)."""

    FAILING = "failing"
    RECOVERED = "recovered"
    SLOW = "slow"  # a run took longer than the job's max_duration_seconds
    NO_SUCCESS = "no_success"  # no success within the job's success_within_seconds
    PAUSED = "paused"  # paused after pause_after_failures consecutive failed runs
    REMINDER = "reminder"  # still failing, every remind_every_seconds (one per run at most)


class CatchUp(StrEnum):
    NONE = "none"
    LATEST = "latest"
    ALL = "all"


class Overlap(StrEnum):
    """What a tick does while the job has runs pending or running (``domain/overlap.py``)."""

    SKIP = "skip"  # blocking: true
    ALLOW = "allow"  # blocking: false (up to max_concurrency)
    BUFFER_ONE = "buffer_one"
    CANCEL_OTHER = "cancel_other"


class PullKind(StrEnum):
    """Who pulls (``type=`` of a pull): workers take sdk runs, agents command runs."""

    SDK = "sdk"
    COMMAND = "command"


class ChannelKind(StrEnum):
    """Where a notice goes: an alert channel's kind, a delivery's channel."""

    EMAIL = "email"
    WEBHOOK = "webhook"  # signed like push
    SLACK = "slack"  # an incoming webhook


class DeliveryStatus(StrEnum):
    """A notification delivery's state (a retry stays pending)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


TERMINAL = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.EXPIRED,
     RunStatus.CANCELLED}
)
ACTIVE = frozenset({RunStatus.PENDING, RunStatus.RUNNING})

# The execution state machine (domain/lifecycle.py goes through it). Terminal states never
# change again. pending -> completed/failed: a report may come before the claim (a push
# receiver, a worker that saw the run in a listing). running -> pending: a claimed run that
# reached no worker (its stream broke before it was sent) is given back. pending/running ->
# cancelled: a user asked (POST /jobs/executions/{id}/cancel).
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset(
        {RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.EXPIRED,
         RunStatus.CANCELLED}
    ),
    RunStatus.RUNNING: frozenset(
        {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.EXPIRED, RunStatus.PENDING,
         RunStatus.CANCELLED}
    ),
    RunStatus.COMPLETED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.SKIPPED: frozenset(),
    RunStatus.EXPIRED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}


def can_transition(old: RunStatus, new: RunStatus) -> bool:
    return new in TRANSITIONS[old]
