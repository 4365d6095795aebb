"""Rules of domain/lifecycle.py that decide what storage writes beside the runs themselves
(issue 17: they lived in storage): a cancel on request, the job's state once a tick's rows are
written, the retries of ended runs and what a retry or a trigger shows on its job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedo.server.domain import lifecycle
from schedo.server.domain.errors import Conflict
from schedo.server.domain.lifecycle import SKIP_NEXT_ERROR, TickOutcome
from schedo.server.domain.model import TERMINAL, JobStatus, RunStatus, Trigger

from .test_lifecycle import T0, job, run

# -- cancel ------------------------------------------------------------------------------------


def test_cancel_ends_a_pending_run_without_a_duration() -> None:
    out = lifecycle.cancel(run(), T0 + timedelta(seconds=5))
    assert out.status is RunStatus.CANCELLED
    assert (out.end_time, out.duration) == (T0 + timedelta(seconds=5), None)
    assert out.error == "cancelled on request"


def test_cancel_of_a_running_run_counts_from_its_start_and_says_why() -> None:
    r = run(RunStatus.RUNNING, pick_up_time=T0, start_time=T0 + timedelta(seconds=1))
    out = lifecycle.cancel(r, T0 + timedelta(seconds=4, microseconds=1500), "by hand")
    assert out.duration == 3001  # milliseconds, at the store's precision
    assert out.error == "cancelled on request: by hand"


def test_cancel_of_a_run_started_in_the_future_counts_zero() -> None:
    r = run(RunStatus.RUNNING, start_time=T0 + timedelta(seconds=9))
    assert lifecycle.cancel(r, T0).duration == 0


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_an_ended_run_cannot_be_cancelled(status: RunStatus) -> None:
    with pytest.raises(Conflict, match=f"already ended as {status.value}"):
        lifecycle.cancel(run(status), T0)


def test_a_cancelled_run_is_neither_retried_nor_mirrored_as_completed() -> None:
    out = lifecycle.cancel(run(), T0)
    assert lifecycle.retry_of(out, job(max_retries=5), T0) is None
    assert lifecycle.job_mirror(out) == (JobStatus.FAILED, 0)


# -- a tick's rows written ------------------------------------------------------------------------


def outcome(**kw: object) -> TickOutcome:
    base = dict(runs=[], next_run_at=T0 + timedelta(minutes=1), status=JobStatus.PENDING,
                retry_count=0, last_run_at=T0, active=True)
    base.update(kw)
    return TickOutcome(**base)  # type: ignore[arg-type]


def test_a_tick_that_made_its_pending_run_stands() -> None:
    j = job(status=JobStatus.FAILED, retry_count=2, last_run_at=T0 - timedelta(hours=1))
    out = outcome()
    assert lifecycle.tick_written(j, out, [run()]) == out


def test_a_tick_whose_run_existed_keeps_the_jobs_status() -> None:
    """A heartbeat job's early ping made the tick's run: the insert made nothing."""
    before = T0 - timedelta(hours=1)
    j = job(status=JobStatus.COMPLETED, retry_count=0, last_run_at=before)
    out = lifecycle.tick_written(j, outcome(), [])
    assert (out.status, out.retry_count, out.last_run_at) == (JobStatus.COMPLETED, 0, before)
    assert out.next_run_at == T0 + timedelta(minutes=1)  # the schedule moves on regardless


def test_a_tick_that_only_skipped_keeps_its_outcome() -> None:
    j = job(status=JobStatus.FAILED, retry_count=1)
    out = outcome(status=JobStatus.FAILED, retry_count=1)
    assert lifecycle.tick_written(j, out, [run(RunStatus.SKIPPED)]) == out


@given(st.integers(1, 5), st.integers(0, 5))
def test_skip_next_is_spent_by_the_skip_records_made(skip: int, made: int) -> None:
    made = min(made, skip)
    j = job(skip_next=skip)
    skips = [run(RunStatus.SKIPPED, id=i, error=SKIP_NEXT_ERROR) for i in range(made)]
    out = lifecycle.tick_written(j, outcome(skip_next=0), skips)
    assert out.skip_next == skip - made  # an instant ticked before spends nothing


def test_skip_next_stays_as_the_tick_says_without_a_count() -> None:
    out = lifecycle.tick_written(job(), outcome(skip_next=0), [run()])
    assert out.skip_next == 0


# -- retries and mirrors --------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(RunStatus))
def test_retryable_is_failed_or_expired(status: RunStatus) -> None:
    assert lifecycle.retryable(run(status)) is (status in (RunStatus.FAILED, RunStatus.EXPIRED))


def test_retries_of_ended_runs_follow_their_jobs() -> None:
    jobs = {7: job(max_retries=1), 8: job(id=8, max_retries=0)}
    ended = [run(RunStatus.FAILED, id=1), run(RunStatus.FAILED, id=2, job_id=8),
             run(RunStatus.COMPLETED, id=3), run(RunStatus.EXPIRED, id=4, job_id=9),
             run(RunStatus.EXPIRED, id=5, attempt=2)]
    drafts = lifecycle.retries(ended, jobs, T0)
    assert [(d.job.id, d.attempt, d.trigger) for d in drafts] == [(7, 2, Trigger.RETRY)]
    assert lifecycle.retry_mirror(drafts[0]) == (JobStatus.PENDING, 1)


def test_a_trigger_makes_its_job_pending_with_no_retries_used() -> None:
    assert lifecycle.trigger_mirror(T0) == (JobStatus.PENDING, 0, T0)
