"""Target mode "all" (issue 21), the pure plan: which hosts a tick runs on
(``targets.lanes``), the runs of one tick per host with overlap counted per host
(``lifecycle.tick_runs``), a manual trigger per host, and a retry staying on its host."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from schedo.server.domain import lifecycle, targets
from schedo.server.domain.errors import Conflict
from schedo.server.domain.lifecycle import TickPlan
from schedo.server.domain.model import JobType, RunStatus, Source, Trigger
from schedo.server.domain.overlap import BLOCKED_ERROR, Slots
from schedo.server.domain.records import Job
from schedo.server.domain.targets import AgentSeen

from .test_lifecycle import T0, job, run

ALL = {"tags": ["db", "eu"], "mode": "all"}


def agents(*specs: tuple[str, str]) -> list[AgentSeen]:
    return [AgentSeen(h, frozenset(t.split(","))) for h, t in specs]


def cmd(**kw: object) -> Job:
    return job(type=JobType.COMMAND, command="true", target=ALL, **kw)


def test_lanes_one_per_connected_host_whose_tags_include_the_targets() -> None:
    seen = agents(("b", "db,eu,gpu"), ("a", "eu,db"), ("c", "db"), ("a", "db,eu"),
                  ("d", "eu"))
    assert targets.lanes(ALL, seen) == [("a", "db,eu"), ("b", "db,eu")]  # a once, c/d lack
    # nobody matching: one run for the tags (it expires naming them, or a late agent takes it)
    assert targets.lanes(ALL, agents(("c", "db"))) == [(None, "db,eu")]
    assert targets.lanes(ALL, []) == [(None, "db,eu")]
    # other targets: their one lane, whoever is connected
    assert targets.lanes({"tags": ["db"], "mode": "any"}, seen) == [(None, "db")]
    assert targets.lanes({"host": "x"}, seen) == [("x", None)]
    assert targets.lanes(None, seen) == [(None, None)]
    assert targets.fans_out(ALL) and not targets.fans_out({"tags": ["db"], "mode": "any"})
    assert not targets.fans_out(None)


def test_a_tick_makes_one_run_per_host_and_counts_once() -> None:
    j = cmd(skip_next=0)
    plan = TickPlan(run=[T0], skipped_at=None, skipped_error=None,
                    next_run_at=T0 + timedelta(minutes=1))
    lanes = [("a", "db,eu"), ("b", "db,eu")]
    out = lifecycle.tick_runs(j, plan, T0, False, Slots(), lanes, {})
    assert [(d.target_host, d.target_tags, d.status) for d in out.runs] == [
        ("a", "db,eu", RunStatus.PENDING), ("b", "db,eu", RunStatus.PENDING)]
    assert {d.scheduled_for for d in out.runs} == {T0}
    assert {d.attempt for d in out.runs} == {1}
    assert out.next_run_at == T0 + timedelta(minutes=1) and out.last_run_at == T0
    assert out.status.value == "pending"


def test_overlap_is_per_host() -> None:
    """A blocking job still running on host a skips a's run only; b runs."""
    j = cmd(blocking=True)
    plan = TickPlan(run=[T0], skipped_at=None, skipped_error=None, next_run_at=None)
    lanes = [("a", "db,eu"), ("b", "db,eu")]
    busy: dict[str | None, Slots] = {"a": Slots(active=1)}
    out = lifecycle.tick_runs(j, plan, T0, True, Slots(active=1), lanes,
                              busy)
    got = {d.target_host: (d.status, d.error) for d in out.runs}
    assert got == {"a": (RunStatus.SKIPPED, BLOCKED_ERROR), "b": (RunStatus.PENDING, None)}
    assert busy["a"].active == 1  # the caller's counts are not changed


def test_skip_next_and_the_missed_record_count_per_tick_not_per_host() -> None:
    j = cmd(skip_next=1)
    plan = TickPlan(run=[T0, T0 + timedelta(minutes=1)], skipped_at=T0 - timedelta(hours=2),
                    skipped_error="skipped: 5 missed", next_run_at=None)
    lanes = [("a", "db,eu"), ("b", "db,eu")]
    out = lifecycle.tick_runs(j, plan, T0, False, Slots(), lanes, {})
    first = [d for d in out.runs if d.scheduled_for == T0]
    assert len(first) == 1 and first[0].status is RunStatus.SKIPPED  # one record, no host
    assert first[0].target_host is None
    second = [d.target_host for d in out.runs if d.scheduled_for == T0 + timedelta(minutes=1)]
    assert second == ["a", "b"]
    missed = [d for d in out.runs if d.scheduled_for == T0 - timedelta(hours=2)]
    assert len(missed) == 1 and out.skip_next == 0


def test_no_agent_connected_gives_one_run_for_the_tags() -> None:
    j = cmd()
    plan = TickPlan(run=[T0], skipped_at=None, skipped_error=None, next_run_at=None)
    out = lifecycle.tick_runs(j, plan, T0, False, Slots(),
                              targets.lanes(ALL, []), {})
    [d] = out.runs
    assert (d.target_host, d.target_tags, d.status) == (None, "db,eu", RunStatus.PENDING)


def test_a_manual_trigger_runs_once_per_host_and_blocking_leaves_busy_hosts_out() -> None:
    lanes = [("a", "db,eu"), ("b", "db,eu")]
    made = lifecycle.manual_fan_out(cmd(), None, T0, set(), lanes)
    assert [(d.target_host, d.trigger, d.source) for d in made] == [
        ("a", Trigger.MANUAL, Source.MANUAL), ("b", Trigger.MANUAL, Source.MANUAL)]
    assert len({d.scheduled_for for d in made}) == 1
    blocking = cmd(blocking=True)
    made = lifecycle.manual_fan_out(blocking, None, T0, {"a"}, lanes)
    assert [d.target_host for d in made] == ["b"]
    with pytest.raises(Conflict, match="blocking"):
        lifecycle.manual_fan_out(blocking, None, T0, {"a", "b"}, lanes)


def test_a_retry_stays_on_its_host() -> None:
    j = cmd(max_retries=2)
    failed = run(RunStatus.FAILED, job_type=JobType.COMMAND, target_host="b",
                 target_tags="db,eu", end_time=T0)
    d = lifecycle.retry_of(failed, j, T0, random.Random(1))
    assert d is not None
    assert (d.target_host, d.target_tags, d.attempt) == ("b", "db,eu", 2)
