"""Overlap policies (domain/overlap.py), as pure rules: what one tick does while the job has
live runs (``Slots.decide``), which live runs a tick of an ``overlap=cancel_other`` job ends,
and when a buffered run (``overlap=buffer_one``) becomes due."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedo.server.domain import overlap
from schedo.server.domain.model import Overlap, RunStatus
from schedo.server.domain.overlap import HELD, Slots
from schedo.server.domain.policies import pickup_deadline
from schedo.server.domain.records import Run

from .test_lifecycle import T0, job, run

ALL = {"mode": "all", "tags": ["db"]}

# -- one tick: Slots.decide ------------------------------------------------------------------


def test_an_idle_job_runs_whatever_its_policy() -> None:
    for p in Overlap:
        s = Slots()
        assert s.decide(job(overlap=p.value)) == (True, False, None)
        assert s.active == 1 and not s.held


def test_skip_records_a_skipped_tick_while_a_run_is_active() -> None:
    s = Slots(active=1)
    assert s.decide(job(overlap="skip")) == (False, False, overlap.BLOCKED_ERROR)
    assert s.active == 1


def test_allow_runs_up_to_max_concurrency() -> None:
    s, j = Slots(active=1), job(overlap="allow", max_concurrency=3)
    assert [s.decide(j)[0] for _ in range(4)] == [True, True, False, False]
    assert s.decide(j)[2] == overlap.limit_error(3)
    assert Slots(active=50).decide(job(overlap="allow"))[0]  # no limit: always


def test_buffer_one_holds_one_tick_and_skips_the_next() -> None:
    s, j = Slots(active=1), job(overlap="buffer_one")
    assert s.decide(j) == (True, True, None)
    assert s.held and s.active == 2
    assert s.decide(j) == (False, False, overlap.BUFFER_FULL_ERROR)


def test_cancel_other_always_runs() -> None:
    s = Slots(active=3, held=True)
    assert s.decide(job(overlap="cancel_other")) == (True, False, None)
    assert s.active == 4


def test_only_the_policies_that_look_at_live_runs_read_them() -> None:
    assert not overlap.counts_live_runs(job(overlap="allow"))
    assert overlap.counts_live_runs(job(overlap="allow", max_concurrency=2))
    assert overlap.counts_live_runs(job(overlap="skip", blocking=True))
    assert overlap.counts_live_runs(job(overlap="buffer_one"))
    assert overlap.counts_live_runs(job(overlap="cancel_other"))
    assert overlap.counts_live_runs(job(blocking=True))  # a row from before the field


def test_rows_from_before_the_field_use_blocking() -> None:
    assert overlap.policy(job(blocking=True)) is Overlap.SKIP
    assert overlap.policy(job(blocking=False)) is Overlap.ALLOW
    assert Slots(active=1).decide(job(blocking=True))[0] is False


@given(st.sampled_from(list(Overlap)), st.integers(0, 5), st.booleans(),
       st.integers(1, 4), st.integers(1, 8))
def test_decide_properties(p: Overlap, active: int, held: bool, limit: int, ticks: int) -> None:
    """Counts only grow by the runs made; a hold is made only by buffer_one and only once;
    a tick that runs never carries an error, a skipped one always does."""
    s = Slots(active=active, held=held and active > 0)
    j = job(overlap=p.value, max_concurrency=limit if p is Overlap.ALLOW else None)
    holds = 0
    for _ in range(ticks):
        before = s.active
        ran, hold, error = s.decide(j)
        assert (error is None) == ran
        assert s.active == before + ran
        holds += hold
        assert not hold or p is Overlap.BUFFER_ONE
    assert holds <= 1


# -- after a tick: cancel_other ---------------------------------------------------------------


def test_a_cancel_other_tick_ends_the_jobs_other_live_runs() -> None:
    j = job(overlap="cancel_other")
    new = run(id=50, scheduled_for=T0 + timedelta(minutes=1))
    old = [run(id=41), run(RunStatus.RUNNING, id=42), new]
    assert overlap.cancelling([j], [new]) == [7]
    assert [r.id for r in overlap.cancelled_by_tick([j], [new], old)] == [41, 42]


def test_no_new_pending_run_cancels_nothing() -> None:
    j = job(overlap="cancel_other")
    skipped = run(RunStatus.SKIPPED, id=50)
    assert overlap.cancelling([j], [skipped]) == []
    assert overlap.cancelled_by_tick([j], [skipped], [run(id=41)]) == []
    assert overlap.cancelling([j], []) == []  # the tick's row existed already


def test_other_policies_cancel_nothing() -> None:
    new = run(id=50)
    for p in ("skip", "allow", "buffer_one"):
        assert overlap.cancelling([job(overlap=p)], [new]) == []
        assert overlap.cancelled_by_tick([job(overlap=p)], [new], [run(id=41)]) == []


def test_a_mode_all_job_cancels_only_on_the_hosts_that_run_again() -> None:
    j = job(overlap="cancel_other", type="command", target=ALL)
    new = run(id=50, target_host="a", target_tags="db")
    live = [run(id=41, target_host="a", target_tags="db"),
            run(RunStatus.RUNNING, id=42, target_host="b", target_tags="db")]
    assert [r.id for r in overlap.cancelled_by_tick([j], [new], live)] == [41]


def test_runs_of_other_jobs_are_left_alone() -> None:
    j = job(overlap="cancel_other")
    other = run(id=41, job_id=8)
    assert overlap.cancelled_by_tick([j], [run(id=50)], [other]) == []


# -- after an end: buffer_one ------------------------------------------------------------------


def held(**kw: object) -> Run:
    return run(due_at=HELD, pickup_deadline=HELD + timedelta(seconds=30), **kw)


def test_a_buffered_run_is_released_once_its_job_is_idle() -> None:
    h = held(id=50)
    now = T0 + timedelta(minutes=3)
    [out] = overlap.released([h], [], now)
    assert (out.id, out.due_at, out.status) == (50, now, RunStatus.PENDING)
    assert out.pickup_deadline == pickup_deadline(now, h.timeout_seconds)


def test_a_buffered_run_waits_while_another_run_is_live() -> None:
    h = held(id=50)
    assert overlap.released([h], [run(RunStatus.RUNNING, id=41)], T0) == []
    assert overlap.released([h], [run(id=41)], T0) == []


def test_other_buffered_runs_and_other_jobs_do_not_hold_it() -> None:
    h = held(id=50)
    live = [held(id=51), run(RunStatus.RUNNING, id=41, job_id=8)]
    assert [r.id for r in overlap.released([h], live, T0)] == [50]


def test_a_buffered_run_of_a_mode_all_job_waits_only_for_its_host() -> None:
    h = held(id=50, target_host="a", target_tags="db")
    on_b = run(RunStatus.RUNNING, id=41, target_host="b", target_tags="db")
    on_a = run(RunStatus.RUNNING, id=42, target_host="a", target_tags="db")
    assert [r.id for r in overlap.released([h], [on_b], T0)] == [50]
    assert overlap.released([h], [on_b, on_a], T0) == []


@pytest.mark.parametrize("status", [RunStatus.RUNNING, RunStatus.COMPLETED])
def test_only_held_pending_runs_are_released(status: RunStatus) -> None:
    assert overlap.released([run(status, id=50, due_at=HELD)], [], T0) == []
    assert overlap.released([run(id=50)], [], T0) == []  # due already: not buffered
