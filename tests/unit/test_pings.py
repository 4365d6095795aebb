"""Heartbeat ping rules (domain/pings.py): URL actions, bodies, which run a ping acts on,
early pings, log output, the missed-ping reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schedo.server.domain import pings
from schedo.server.domain.model import JobType, RunStatus
from schedo.server.domain.pings import Ping, PingKind
from tests.unit.test_lifecycle import run

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("segment", "kind", "code"), [
    (None, PingKind.SUCCESS, None), ("start", PingKind.START, None),
    ("fail", PingKind.FAIL, None), ("log", PingKind.LOG, None), ("0", PingKind.SUCCESS, 0),
    ("1", PingKind.FAIL, 1), ("255", PingKind.FAIL, 255),
])
def test_actions(segment: str | None, kind: PingKind, code: int | None) -> None:
    assert pings.parse_action(segment) == Ping(kind, exit_code=code)


@pytest.mark.parametrize("segment", ["256", "-1", "0001", "START", "finish", " 1"])
def test_unknown_actions(segment: str) -> None:
    assert pings.parse_action(segment) is None


def test_body_is_kept_capped_at_a_character_boundary() -> None:
    assert pings.body_text(b"") is None
    assert pings.body_text("é ok".encode()) == "é ok"
    assert pings.body_text(b"\xff\x00x") == "\ufffd\ufffdx"
    big = ("é" * 6000).encode()  # 12,000 bytes
    text = pings.body_text(big)
    assert text is not None and text.endswith("\n… [truncated]")
    assert len(text.removesuffix("\n… [truncated]").encode()) <= pings.OUTPUT_MAX_BYTES


def test_target_start_takes_the_oldest_waiting_run() -> None:
    old = run(RunStatus.PENDING, id=1, scheduled_for=T0)
    new = run(RunStatus.PENDING, id=2, scheduled_for=T0 + timedelta(minutes=1))
    busy = run(RunStatus.RUNNING, id=3, scheduled_for=T0 - timedelta(minutes=1))
    assert pings.target([new, busy, old], Ping(PingKind.START)) == old
    assert pings.target([busy], Ping(PingKind.START)) is None
    # a finish without rid: the oldest running run, else the oldest waiting one
    assert pings.target([new, busy, old], Ping(PingKind.SUCCESS)) == busy
    assert pings.target([new, old], Ping(PingKind.FAIL)) == old
    assert pings.target([], Ping(PingKind.SUCCESS)) is None


def test_target_with_rid_finds_only_its_own_run() -> None:
    a = run(RunStatus.RUNNING, id=1, metadata={"rid": "a"})
    b = run(RunStatus.RUNNING, id=2, metadata={"rid": "b"})
    assert pings.target([a, b], Ping(PingKind.SUCCESS, rid="b")) == b
    assert pings.target([a, b], Ping(PingKind.LOG, rid="c")) is None


def test_upcoming_takes_a_tick_only_when_it_is_close() -> None:
    assert pings.upcoming(T0 + timedelta(seconds=15), T0) == T0 + timedelta(seconds=15)
    assert pings.upcoming(T0 + timedelta(seconds=16), T0) is None
    assert pings.upcoming(T0, T0) is None and pings.upcoming(None, T0) is None


def test_log_output_grows_within_the_cap() -> None:
    assert pings.append_log(None, "one") == "one"
    assert pings.append_log("one", "two") == "one\ntwo"
    assert pings.append_log("one", None) == "one"
    long = pings.append_log("x" * pings.OUTPUT_MAX_BYTES, "more")
    assert long is not None and long.endswith("… [truncated]")


def test_missed_reasons() -> None:
    waiting = run(RunStatus.PENDING, job_type=JobType.HEARTBEAT, timeout_seconds=300)
    assert pings.missed_reason(waiting) == (
        "missed: no ping within the grace time (300s) after 2026-11-28T12:00:00Z")
    started = run(RunStatus.RUNNING, job_type=JobType.HEARTBEAT, timeout_seconds=300,
                  pick_up_time=T0)
    assert pings.missed_reason(started) == (
        "missed: started but no finish ping within the grace time (300s)")


# -- what a ping writes (issue 17: these lived in storage) --------------------------------------


def test_a_start_ping_sets_the_grace_deadline_else_the_timeout() -> None:
    from tests.unit.test_lifecycle import job

    assert pings.start_deadline(job(timeout_seconds=30, grace_seconds=600), T0) == (
        T0 + timedelta(seconds=600))
    assert pings.start_deadline(job(timeout_seconds=30), T0) == T0 + timedelta(seconds=30)


def test_a_start_ping_keeps_its_rid_in_the_metadata() -> None:
    r = run(metadata={"team": "data"})
    assert pings.start_metadata(r, Ping(PingKind.START, rid="abc")) == {"team": "data",
                                                                         "rid": "abc"}
    assert pings.start_metadata(r, Ping(PingKind.START)) == {"team": "data"}


def test_the_report_of_an_ending_ping() -> None:
    started = run(RunStatus.RUNNING, start_time=T0)
    ok = pings.report(Ping(PingKind.SUCCESS, body="done", exit_code=0), started,
                      T0 + timedelta(seconds=5))
    assert (ok.success, ok.output, ok.error, ok.exit_code) == (True, "done", None, 0)
    assert (ok.start_time, ok.end_time) == (T0, T0 + timedelta(seconds=5))
    bad = pings.report(Ping(PingKind.FAIL, exit_code=3), run(), T0)
    assert (bad.success, bad.error) == (False, "the job pinged exit status 3")
    assert bad.start_time == T0  # never started: it started as it ended
    assert pings.report(Ping(PingKind.FAIL), run(), T0).error == "the job pinged a failure"
