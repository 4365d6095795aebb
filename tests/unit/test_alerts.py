"""Alert rules per job (domain/alerts.py): thresholds, slow runs, auto-pause, the
no-success window. Pure: runs and instants are made here, no clock but the one passed."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from schedo.server.domain import alerts
from schedo.server.domain.alerts import AlertRules, AlertState
from schedo.server.domain.model import Health, NoticeKind, RunStatus
from schedo.server.domain.records import Run
from tests.unit.test_lifecycle import run

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FAIL, OK, GONE = RunStatus.FAILED, RunStatus.COMPLETED, RunStatus.EXPIRED


def ended(status: RunStatus, i: int = 1, attempt: int = 1, seconds: float = 1.0) -> Run:
    end = T0 + timedelta(minutes=i)
    return run(status, id=100 + i, attempt=attempt, start_time=end - timedelta(seconds=seconds),
               end_time=end, duration=None if status is GONE else int(seconds * 1000))


def play(statuses: list[RunStatus], rules: AlertRules,
         state: AlertState = AlertState()) -> tuple[AlertState, list[NoticeKind], list[str]]:
    notices: list[NoticeKind] = []
    reasons: list[str] = []
    for i, s in enumerate(statuses, 1):
        turn = alerts.after_run(ended(s, i), state, rules)
        if turn is None:
            continue
        state = turn.state
        notices += turn.notices
        if turn.pause_reason:
            reasons.append(turn.pause_reason)
    return state, notices, reasons


def test_default_alerts_on_the_first_failure_and_once_per_turn() -> None:
    state, notices, _ = play([FAIL, FAIL, OK, OK, GONE], AlertRules())
    assert notices == [NoticeKind.FAILING, NoticeKind.RECOVERED, NoticeKind.FAILING]
    assert state.health is Health.FAILING and state.failures == 1


def test_alert_after_three_consecutive_failures_only() -> None:
    rules = AlertRules(alert_after_failures=3)
    # two failures then a success: nothing at all (a blip the threshold absorbs)
    state, notices, _ = play([FAIL, FAIL, OK], rules)
    assert notices == [] and state.health is Health.OK and state.failures == 0
    state, notices, _ = play([FAIL, FAIL, FAIL, FAIL, OK], rules)
    assert notices == [NoticeKind.FAILING, NoticeKind.RECOVERED]
    assert state.last_success_at == T0 + timedelta(minutes=5)


def test_a_retried_attempt_counts_nothing_only_the_runs_last_attempt() -> None:
    rules = AlertRules(alert_after_failures=2, max_retries=2)
    s = AlertState()
    assert alerts.after_run(ended(FAIL, 1, attempt=1), s, rules) is None
    assert alerts.after_run(ended(FAIL, 2, attempt=2), s, rules) is None
    turn = alerts.after_run(ended(FAIL, 3, attempt=3), s, rules)
    assert turn is not None and turn.state.failures == 1 and turn.notices == []


def test_a_slow_run_alerts_once_whatever_its_outcome() -> None:
    rules = AlertRules(max_duration_seconds=60)
    fast = alerts.after_run(ended(OK, 1, seconds=60), AlertState(health=Health.OK), rules)
    assert fast is not None and fast.notices == []  # exactly the limit is not slower
    slow = alerts.after_run(ended(OK, 2, seconds=61), AlertState(health=Health.OK), rules)
    assert slow is not None and slow.notices == [NoticeKind.SLOW]
    both = alerts.after_run(ended(FAIL, 3, seconds=90), AlertState(health=Health.OK), rules)
    assert both is not None and both.notices == [NoticeKind.SLOW, NoticeKind.FAILING]
    # an expired run has no duration: its failure alerts, not its slowness
    gone = alerts.after_run(ended(GONE, 4), AlertState(health=Health.OK), rules)
    assert gone is not None and gone.notices == [NoticeKind.FAILING]


def test_pause_after_failures_pauses_once_with_its_reason() -> None:
    rules = AlertRules(alert_after_failures=1, pause_after_failures=3)
    state, notices, reasons = play([FAIL, FAIL, FAIL], rules)
    assert state.paused and state.failures == 3
    assert notices == [NoticeKind.FAILING, NoticeKind.PAUSED]
    assert reasons == ["paused after 3 consecutive failed runs (the last: execution 103, failed)"]
    # a run that was already under way ends after the pause: no second pause
    again = alerts.after_run(ended(FAIL, 4), state, rules)
    assert again is not None and again.pause_reason is None and again.notices == []


def test_muted_jobs_keep_their_state_but_send_nothing() -> None:
    rules = AlertRules(pause_after_failures=1, max_duration_seconds=1, muted=True)
    state, notices, reasons = play([FAIL], rules)
    assert notices == [] and state.paused and len(reasons) == 1
    assert state.health is Health.FAILING


def test_no_change_means_none() -> None:
    assert alerts.after_run(ended(OK), AlertState(health=Health.OK, failures=0,
                                                  last_success_at=T0 + timedelta(minutes=1)),
                            AlertRules()) is None
    assert alerts.after_run(run(RunStatus.SKIPPED), AlertState(), AlertRules()) is None


def test_the_no_success_window() -> None:
    assert alerts.success_due(None, T0) is None
    assert alerts.success_due(26 * 3600, T0) == T0 + timedelta(hours=26)
    msg = alerts.window_message(26 * 3600, T0, succeeded_before=True)
    assert msg == "no successful run within 26h (since the last success, 2026-11-28T12:00:00Z)"


@given(st.lists(st.sampled_from([FAIL, OK, GONE]), max_size=30), st.integers(1, 5))
def test_failing_and_recovered_alternate_and_follow_the_threshold(
    statuses: list[RunStatus], n: int
) -> None:
    state, notices, _ = play(statuses, AlertRules(alert_after_failures=n))
    turns = [k for k in notices if k in (NoticeKind.FAILING, NoticeKind.RECOVERED)]
    assert all(a != b for a, b in itertools.pairwise(turns))
    assert not turns or turns[0] is NoticeKind.FAILING
    streak = 0
    for s in statuses:
        streak = 0 if s is OK else streak + 1
    assert state.failures == streak
