"""The rules of a run's life (domain/lifecycle.py), unit and property tests: the transition
table, a report's end, expiry, release, retries, health turns, tick rows, manual runs."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedo.server.domain import lifecycle
from schedo.server.domain.errors import Conflict
from schedo.server.domain.lifecycle import TickPlan
from schedo.server.domain.model import (
    TERMINAL,
    TRANSITIONS,
    CatchUp,
    JobStatus,
    JobType,
    RunStatus,
    Source,
    Trigger,
)
from schedo.server.domain.records import Completion, Job, Run

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def job(**kw: object) -> Job:
    base = dict(
        id=7, environment_id=1, name="nightly", type=JobType.SDK, cron_expression="* * * * *",
        timezone="UTC", anchor_at=T0, catch_up=CatchUp.LATEST, paused=False, muted=False,
        blocking=False, timeout_seconds=30, max_retries=0, retry_count=0,
        metadata={"team": "data"}, webhook_url=None, command=None, status=JobStatus.COMPLETED,
        last_run_at=None, next_run_at=T0, created_at=T0, updated_at=T0,
    )
    base.update(kw)
    return Job(**base)  # type: ignore[arg-type]


def run(status: RunStatus = RunStatus.PENDING, **kw: object) -> Run:
    base = dict(
        id=41, job_id=7, environment_id=1, job_code="nightly", job_type=JobType.SDK,
        status=status, source=Source.SCHEDULE, scheduled_for=T0, attempt=1,
        trigger=Trigger.SCHEDULE, due_at=T0, pickup_deadline=T0 + timedelta(seconds=30),
        run_deadline=None, timeout_seconds=30, pick_up_time=None, start_time=None,
        end_time=None, duration=None, output=None, error=None, exit_code=None,
        metadata={"team": "data"}, created_at=T0,
    )
    base.update(kw)
    return Run(**base)  # type: ignore[arg-type]


STATUSES = st.sampled_from(list(RunStatus))


# -- the state machine ---------------------------------------------------------------------


@given(old=STATUSES, new=STATUSES)
def test_transition_follows_the_table(old: RunStatus, new: RunStatus) -> None:
    if new in TRANSITIONS[old]:
        assert lifecycle.transition(run(old), new).status is new
    else:
        with pytest.raises(Conflict):
            lifecycle.transition(run(old), new)


def test_terminal_states_never_change() -> None:
    for s in TERMINAL:
        assert TRANSITIONS[s] == frozenset()


# -- a report's end ------------------------------------------------------------------------


@given(
    success=st.booleans(),
    picked=st.integers(0, 3600),
    took=st.integers(-5000, 10_000_000),
    again=st.booleans(),
)
def test_end_run_properties(success: bool, picked: int, took: int, again: bool) -> None:
    start = T0 + timedelta(seconds=picked)
    ex = run(RunStatus.RUNNING, pick_up_time=start, start_time=start)
    end = start + timedelta(milliseconds=took)
    done, changed = lifecycle.end_run(ex, Completion(success=success, output="o",
                                                     end_time=end), end)
    assert changed
    assert done.status is (RunStatus.COMPLETED if success else RunStatus.FAILED)
    assert done.start_time is not None and done.end_time is not None
    assert done.start_time <= done.end_time and done.duration is not None
    assert done.duration == int((done.end_time - done.start_time).total_seconds() * 1000) >= 0
    assert done.end_time.microsecond % 1000 == 0  # the store's millisecond precision
    # the same report again is harmless; another outcome is a conflict
    same, changed2 = lifecycle.end_run(done, Completion(success=success), end)
    assert same == done and not changed2
    with pytest.raises(Conflict, match="already ended"):
        lifecycle.end_run(done, Completion(success=not success), end)


def test_a_report_before_the_claim_uses_the_due_time_as_start() -> None:
    done, _ = lifecycle.end_run(run(), Completion(success=True), T0 + timedelta(seconds=3))
    assert done.start_time == T0 and done.duration == 3000


# -- expiry and release ----------------------------------------------------------------------


def test_expiry_says_which_deadline_was_missed() -> None:
    now = T0 + timedelta(minutes=5)
    unclaimed = lifecycle.expire(run(timeout_seconds=300), now)
    assert unclaimed.status is RunStatus.EXPIRED and unclaimed.end_time == now
    assert unclaimed.error == ("expired: not picked up within 60s of becoming due "
                               "(no worker connected?)")
    claimed = lifecycle.expire(run(RunStatus.RUNNING, pick_up_time=T0), now)
    assert claimed.error == "expired: no result reported within timeout (30s + 5s grace)"
    for s in TERMINAL:
        with pytest.raises(Conflict):
            lifecycle.expire(run(s), now)


def test_release_gives_a_claimed_run_back_with_a_new_window() -> None:
    now = T0 + timedelta(seconds=20)
    held = run(RunStatus.RUNNING, pick_up_time=T0, start_time=T0,
               run_deadline=T0 + timedelta(seconds=35))
    back = lifecycle.release(held, now)
    assert back.status is RunStatus.PENDING
    assert (back.pick_up_time, back.start_time, back.run_deadline) == (None, None, None)
    assert back.pickup_deadline == now + timedelta(seconds=30)
    with pytest.raises(Conflict):
        lifecycle.release(run(RunStatus.COMPLETED), now)


# -- retries ---------------------------------------------------------------------------------


@given(attempt=st.integers(1, 12), retries=st.integers(0, 12), status=STATUSES,
       seed=st.integers(0, 2**32))
def test_retry_of_properties(attempt: int, retries: int, status: RunStatus, seed: int) -> None:
    ended = run(status, attempt=attempt, source=Source.MANUAL, metadata={"at": "run time"})
    now = T0 + timedelta(hours=1)
    d = lifecycle.retry_of(ended, job(max_retries=retries), now, random.Random(seed))
    if status not in (RunStatus.FAILED, RunStatus.EXPIRED) or attempt > retries:
        assert d is None
        return
    assert d is not None
    assert (d.attempt, d.trigger, d.source, d.scheduled_for) == (
        attempt + 1, Trigger.RETRY, Source.MANUAL, T0)
    assert d.status is RunStatus.PENDING and d.metadata == {"at": "run time"}
    base = min(10 * 2 ** (attempt - 1), 600)
    assert base * 0.8 <= (d.due_at - now).total_seconds() <= base * 1.2
    assert d.pickup_deadline == d.due_at + timedelta(seconds=30)


# -- ticks and manual runs -------------------------------------------------------------------


@given(n=st.integers(0, 5), blocking=st.booleans(), active=st.booleans(),
       caught=st.integers(0, 5), skipped=st.booleans())
def test_tick_runs_properties(n: int, blocking: bool, active: bool, caught: int,
                              skipped: bool) -> None:
    instants = [T0 + timedelta(minutes=i) for i in range(n)]
    now = T0 + timedelta(minutes=n)
    plan = TickPlan(run=instants, caught_up=instants[:caught],
                    skipped_at=T0 - timedelta(minutes=1) if skipped else None,
                    skipped_error="missed 3" if skipped else None,
                    next_run_at=now + timedelta(minutes=1))
    j = job(blocking=blocking)
    out = lifecycle.tick_runs(j, plan, now, active)
    pending = [d for d in out.runs if d.status is RunStatus.PENDING]
    skips = [d for d in out.runs if d.status is RunStatus.SKIPPED]
    assert len(out.runs) == n + (1 if skipped else 0)
    if blocking:
        assert len(pending) == (0 if active else min(n, 1))
    else:
        assert len(pending) == n
    assert all(d.error == lifecycle.BLOCKED_ERROR for d in skips
               if d.scheduled_for != plan.skipped_at)
    for d in pending:
        window_from = now if d.scheduled_for in plan.caught_up else d.scheduled_for
        assert d.pickup_deadline == window_from + timedelta(seconds=30)
        assert (d.attempt, d.trigger, d.source) == (1, Trigger.SCHEDULE, Source.SCHEDULE)
    assert all(d.pickup_deadline is None and d.end_time == now for d in skips)
    assert out.next_run_at == plan.next_run_at
    if pending:
        assert out.status is JobStatus.PENDING and out.retry_count == 0
        assert out.last_run_at == pending[-1].scheduled_for
    else:
        assert (out.status, out.last_run_at) == (j.status, j.last_run_at)


def test_manual_runs_are_keyed_by_distinct_instants_and_blocking_refuses() -> None:
    d = lifecycle.manual_run(job(), None, T0, active=False)
    assert (d.scheduled_for, d.source, d.trigger) == (T0, Source.MANUAL, Trigger.MANUAL)
    d2 = lifecycle.manual_run(job(), T0, T0, active=True)  # not blocking: overlap allowed
    assert d2.scheduled_for == T0 + timedelta(milliseconds=1)
    with pytest.raises(Conflict, match="blocking"):
        lifecycle.manual_run(job(blocking=True), None, T0, active=True)


def test_job_mirror_ignores_skipped_runs() -> None:
    assert lifecycle.job_mirror(run(RunStatus.SKIPPED)) is None
    assert lifecycle.job_mirror(run(RunStatus.EXPIRED, attempt=3)) == (JobStatus.FAILED, 2)
    assert lifecycle.job_mirror(replace(run(RunStatus.RUNNING))) == (JobStatus.RUNNING, 0)
