"""Alert rules per job (issue 19), as pure functions: when an ended run alerts, when a job
turns failing or recovered, when it is paused after repeated failures, and when a job that
has not succeeded within its window alerts. Storage persists what these decide.

- ``alert_after_failures`` (default 1): the job turns *failing* (one ``failing`` notice) when
  this many runs in a row ended failed or expired, counting only a run's last attempt (an
  attempt that will be retried is not the run's last word). A completed run resets the count
  and, if the job was failing, turns it *recovered* (one ``recovered`` notice).
- ``max_duration_seconds``: a run that ended and took longer sends one ``slow`` notice (once
  per run: the outbox keeps one row per run and kind).
- ``pause_after_failures`` (off by default): at that many consecutive failed runs the job is
  paused, with the reason recorded, and a ``paused`` notice is sent.
- ``success_within_seconds``: when the window passes with no completed run (counted from the
  last success, else from the definition), one ``no_success`` notice; the next one only
  after a success opened a new window.

A muted job changes state the same way but sends no notice. Time always comes in as an
argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .model import Health, NoticeKind, RunStatus
from .policies import will_retry
from .records import Run
from .timefmt import format_duration, rfc3339


@dataclass(frozen=True, slots=True)
class AlertRules:
    """A job's alert settings (None: the rule is off)."""

    alert_after_failures: int = 1
    max_duration_seconds: int | None = None
    success_within_seconds: int | None = None
    pause_after_failures: int | None = None
    max_retries: int = 0
    muted: bool = False


@dataclass(frozen=True, slots=True)
class AlertState:
    """What a job remembers between runs for its alerts."""

    health: Health | None = None  # None: no run ended yet
    failures: int = 0  # consecutive failed runs (last attempts), reset by a success
    last_success_at: datetime | None = None
    paused: bool = False


@dataclass(frozen=True, slots=True)
class AlertTurn:
    """The job's state after one ended run, the notices it sends (in order), and the reason
    of a pause it brings (None: no pause)."""

    state: AlertState
    notices: list[NoticeKind] = field(default_factory=list)
    pause_reason: str | None = None


ENDED = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.EXPIRED)


def slow(ex: Run, limit_seconds: int | None) -> bool:
    """The ended run took longer than ``limit_seconds``."""
    return (limit_seconds is not None and ex.duration is not None
            and ex.duration > limit_seconds * 1000)


def pause_reason(failures: int, ex: Run) -> str:
    return (f"paused after {failures} consecutive failed runs "
            f"(the last: execution {ex.id}, {ex.status.value})")


def after_run(ex: Run, state: AlertState, rules: AlertRules) -> AlertTurn | None:
    """How an ended run changes its job's alert state; None when it changes nothing."""
    if ex.status not in ENDED:
        return None
    notices: list[NoticeKind] = []
    if slow(ex, rules.max_duration_seconds):
        notices.append(NoticeKind.SLOW)
    failed = ex.status is not RunStatus.COMPLETED
    reason = None
    if failed and will_retry(ex.attempt, rules.max_retries):
        new = state
    elif failed:
        failures = state.failures + 1
        health = state.health
        if health is not Health.FAILING and failures >= max(1, rules.alert_after_failures):
            health = Health.FAILING
            notices.append(NoticeKind.FAILING)
        paused = state.paused
        limit = rules.pause_after_failures
        if limit is not None and failures >= limit and not paused:
            paused, reason = True, pause_reason(failures, ex)
            notices.append(NoticeKind.PAUSED)
        new = AlertState(health=health, failures=failures,
                         last_success_at=state.last_success_at, paused=paused)
    else:
        if state.health is Health.FAILING:
            notices.append(NoticeKind.RECOVERED)
        new = AlertState(health=Health.OK, failures=0,
                         last_success_at=ex.end_time or state.last_success_at,
                         paused=state.paused)
    if new == state and not notices:
        return None
    return AlertTurn(state=new, notices=[] if rules.muted else notices, pause_reason=reason)


def success_due(window_seconds: int | None, since: datetime | None) -> datetime | None:
    """When the no-success alert of a window opened at ``since`` is due (None: no rule)."""
    if window_seconds is None or since is None:
        return None
    return since + timedelta(seconds=window_seconds)


def remind_due(every_seconds: int | None, since: datetime) -> datetime | None:
    """When the next reminder of a failing job is due (None: reminders are off)."""
    return None if every_seconds is None else since + timedelta(seconds=every_seconds)


def window_message(window_seconds: int, since: datetime, succeeded_before: bool) -> str:
    """The error text of a no-success notice."""
    what = "the last success" if succeeded_before else "the job was defined"
    return (f"no successful run within {format_duration(window_seconds)} "
            f"(since {what}, {rfc3339(since)})")
