"""Contract: the alert rules as storage keeps them (issue 19) — thresholds and slow runs in
the transaction that ends a run, the pause after repeated failures, and AlertStore's
no-success window — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from schedo.server.domain.records import Completion
from tests.contract.kit import FAIL, OK, T0, Stores, World, at, build_world, spec
from tests.contract.test_store_notifications import ended, notifications


async def kinds(world: World, org: int | None = None) -> list[tuple[str, str]]:
    return [(n.job_name, n.kind) for n in reversed(await notifications(world, org))]


async def test_alert_after_failures_and_slow_runs(world: World) -> None:
    for i in range(2):
        await ended(world, "flaky", FAIL, now=at(60 * i), alert_after_failures=3,
                    max_duration_seconds=60)
    await ended(world, "flaky", OK, now=at(120))
    assert await kinds(world) == []  # two failures then a success: under the threshold
    for i in range(3):
        await ended(world, "flaky", FAIL, now=at(180 + 60 * i))
    job = await world.store.get_job_by_name(world.env, "flaky")
    assert job is not None and job.consecutive_failures == 3
    assert job.last_success_at == at(121)
    assert await kinds(world) == [("flaky", "failing")]
    slow = Completion(success=True, start_time=at(400), end_time=at(500))
    await ended(world, "flaky", slow, now=at(400))
    assert await kinds(world) == [("flaky", "failing"), ("flaky", "slow"),
                                  ("flaky", "recovered")]
    again = await world.store.get_job_by_name(world.env, "flaky")
    assert again is not None and again.consecutive_failures == 0


async def test_slow_alerts_need_the_rule(world: World) -> None:
    slow = Completion(success=True, start_time=at(0), end_time=at(100))
    await ended(world, "nolimit", slow)
    await ended(world, "limited", slow, max_duration_seconds=99)
    assert await kinds(world) == [("limited", "slow")]


async def test_pause_after_failures_pauses_records_the_reason_and_alerts(world: World) -> None:
    s = world.store
    for i in range(2):
        run = await ended(world, "fragile", FAIL, now=at(60 * i), pause_after_failures=2,
                          alert_after_failures=5)
    job = await s.get_job_by_name(world.env, "fragile")
    assert job is not None and job.paused and job.next_run_at is None
    assert job.paused_reason == (
        f"paused after 2 consecutive failed runs (the last: execution {run.id}, failed)")
    assert await kinds(world) == [("fragile", "paused")]
    resumed = await s.update_job_flags(world.env, job.id, at(200), paused=False,
                                       next_run_at=at(300))
    assert not resumed.paused and resumed.paused_reason is None
    assert resumed.consecutive_failures == 0 and resumed.next_run_at == at(300)


async def test_muted_jobs_pause_but_write_nothing(world: World) -> None:
    s = world.store
    job = await world.job("quiet", pause_after_failures=1)
    await s.update_job_flags(world.env, job.id, T0, muted=True)
    await ended(world, "quiet", FAIL)
    job = await s.get_job(world.env, job.id)
    assert job.paused and job.paused_reason
    assert await kinds(world) == []


async def test_the_no_success_window_alerts_once_per_window(world: World) -> None:
    s = world.store
    job = await world.job("daily", success_within_seconds=3600)  # defined at T0
    await world.job("other", env=world.other_env, success_within_seconds=9000)
    assert await s.earliest_window_due() == at(3600)
    assert await s.alert_missed_windows(at(3599)) == 0
    assert await s.alert_missed_windows(at(3600)) == 1
    assert await s.alert_missed_windows(at(3700)) == 0  # once per window
    [n] = await notifications(world)
    assert (n.kind, n.job_id, n.execution_id) == ("no_success", job.id, -job.id)
    assert n.error == ("no successful run within 1h (since the job was defined, "
                       "2026-11-28T12:00:00Z)")
    # a success opens the next window, counted from its end
    await ended(world, "daily", OK, now=at(4000))
    assert await s.earliest_window_due() == at(4001 + 3600)
    assert await s.alert_missed_windows(at(4001 + 3600)) == 1
    assert [x.kind for x in await notifications(world)] == ["no_success", "no_success"]
    # the other tenant's job alerts in its own organisation only
    assert await s.alert_missed_windows(at(9000)) == 1
    assert len(await notifications(world, world.other_org)) == 1


async def test_paused_and_muted_jobs_send_no_window_alert(world: World) -> None:
    s = world.store
    paused = await world.job("paused", success_within_seconds=60)
    await s.update_job_flags(world.env, paused.id, T0, paused=True)
    muted = await world.job("muted", success_within_seconds=60)
    await s.update_job_flags(world.env, muted.id, T0, muted=True)
    assert await s.alert_missed_windows(at(100)) == 0
    assert await notifications(world) == []
    resumed = await s.update_job_flags(world.env, paused.id, at(200), paused=False,
                                       next_run_at=at(300))
    assert resumed.paused is False
    assert await s.earliest_window_due() == at(260)  # a new window from the resume


async def test_redefining_the_window_moves_the_due_time(world: World) -> None:
    s = world.store
    await world.job("win", success_within_seconds=600)
    await s.upsert_job(world.env, spec("win", success_within_seconds=1200), at(100), at(300),
                       False)
    assert await s.earliest_window_due() == at(100 + 1200)
    await s.upsert_job(world.env, spec("win"), at(200), at(300), False)
    assert await s.earliest_window_due() is None


async def test_two_processes_alert_a_window_once(stores: Stores) -> None:
    a, b = await stores.open(), await stores.open()
    world = await build_world(a)
    for i in range(20):
        await world.job(f"job-{i:02d}", success_within_seconds=60)
    got = await asyncio.gather(a.alert_missed_windows(at(61)), b.alert_missed_windows(at(61)))
    assert sum(got) == 20
    assert len(await notifications(world)) == 20
    assert T0 + timedelta(seconds=61) == at(61)


async def test_slow_running_runs_alert_once_and_not_for_muted_jobs(world: World) -> None:
    s = world.store
    job = await world.job("slowpoke", max_duration_seconds=30)
    run = await world.claimed(job, now=T0)
    quiet = await world.job("quiet-slow", max_duration_seconds=30)
    await s.update_job_flags(world.env, quiet.id, T0, muted=True)
    await world.claimed(quiet, now=T0)
    assert await s.alert_slow_runs(at(30)) == 0
    assert await s.alert_slow_runs(at(31)) == 1
    assert await s.alert_slow_runs(at(60)) == 0
    await s.complete(world.env, run.id, OK, at(90))  # the end does not alert again
    assert await kinds(world) == [("slowpoke", "slow")]


async def test_one_batch_of_reports_writes_each_jobs_own_turn(world: World) -> None:
    """complete_many over jobs whose turns set different columns (a success, a failure that
    turns failing, a failure that pauses, a job of another environment): each job gets its
    own values, written in one statement per set of columns (storage/job_turns.py)."""
    s = world.store
    ok = await world.job("ok-job", success_within_seconds=600)
    bad = await world.job("bad-job", remind_every_seconds=3600)
    frail = await world.job("frail-job", pause_after_failures=1, alert_after_failures=5)
    foreign = await world.job("ok-job", env=world.other_env)
    runs = [await world.claimed(j) for j in (ok, bad, frail)]
    other = await world.claimed(foreign)
    got = await s.complete_many(world.env, [(runs[0].id, OK), (runs[1].id, FAIL),
                                            (runs[2].id, FAIL), (other.id, OK)], at(10))
    assert [type(r).__name__ for _, r in got] == ["tuple", "tuple", "tuple", "NotFound"]
    ok, bad, frail = [await s.get_job(world.env, j.id) for j in (ok, bad, frail)]
    assert ok.consecutive_failures == 0 and ok.last_success_at == at(10)
    assert not ok.paused and ok.next_run_at == at(300)
    assert bad.consecutive_failures == 1 and bad.last_success_at is None and not bad.paused
    assert frail.paused and frail.next_run_at is None and frail.paused_reason
    assert frail.consecutive_failures == 1
    untouched = await s.get_job(world.other_env, foreign.id)
    assert untouched.last_success_at is None and untouched.consecutive_failures == 0
    assert await kinds(world) == [("bad-job", "failing"), ("frail-job", "paused")]
