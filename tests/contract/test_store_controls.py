"""Contract: the scheduling-control calls of JobStore (set_timed_pause, set_skip_next,
jitter_seconds stored by upsert_job) and what a tick does with them, on SQLite and
PostgreSQL. A job of another environment answers like a missing one."""

from __future__ import annotations

import pytest

from schedo.server.domain.errors import Conflict, NotFound
from schedo.server.domain.lifecycle import SKIP_NEXT_ERROR
from schedo.server.domain.model import RunStatus
from schedo.server.domain.records import Completion
from tests.contract.kit import T0, World, at, plan, planner, spec


async def test_upsert_job_stores_jitter_and_new_jobs_have_no_controls(world: World) -> None:
    s = world.store
    job, _ = await s.upsert_job(world.env, spec("a", jitter_seconds=120), T0, at(300), True)
    assert (job.jitter_seconds, job.paused_until, job.skip_next) == (120, None, 0)
    again, _ = await s.upsert_job(world.env, spec("a"), at(1), None, False)
    assert again.jitter_seconds == 0


async def test_set_timed_pause_stores_until_and_next_run_and_lifts_a_pause(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=at(300))
    await s.update_job_flags(world.env, job.id, at(1), paused=True)
    timed = await s.set_timed_pause(world.env, job.id, at(2), at(3600), at(3600))
    assert (timed.paused, timed.paused_until, timed.next_run_at, timed.updated_at) == (
        False, at(3600), at(3600), at(2))
    assert await s.earliest_next_run_at() == at(3600)
    cleared = await s.set_timed_pause(world.env, job.id, at(3), None, at(300))
    assert (cleared.paused_until, cleared.next_run_at) == (None, at(300))
    # an indefinite pause clears a timed one
    await s.set_timed_pause(world.env, job.id, at(4), at(3600), at(3600))
    paused = await s.update_job_flags(world.env, job.id, at(5), paused=True)
    assert (paused.paused, paused.paused_until, paused.next_run_at) == (True, None, None)
    with pytest.raises(NotFound):
        await s.set_timed_pause(world.env2, job.id, at(6), at(3600), at(3600))
    with pytest.raises(NotFound):
        await s.set_skip_next(world.env2, job.id, at(6), 3)
    assert (await s.get_job(world.env, job.id)).paused_until is None


async def test_tick_counts_skip_next_down_with_skipped_runs_exactly_once(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=T0)
    assert (await s.set_skip_next(world.env, job.id, at(0), 2)).skip_next == 2
    res = await s.tick(at(1), 10, planner({job.id: plan(T0, next_run_at=at(300))}))
    [run] = res.created
    assert (run.status, run.error, run.scheduled_for) == (RunStatus.SKIPPED, SKIP_NEXT_ERROR, T0)
    assert (await s.get_job(world.env, job.id)).skip_next == 1
    # the same instant again (a second ticker): nothing new, the count is not spent twice
    await s.set_timed_pause(world.env, job.id, at(2), None, T0)
    res = await s.tick(at(2), 10, planner({job.id: plan(T0, next_run_at=at(300))}))
    assert res.created == []
    res = await s.tick(at(301), 10, planner({job.id: plan(at(300), at(301),
                                                                next_run_at=at(600))}))
    assert [(r.status, r.scheduled_for) for r in res.created] == [
        (RunStatus.SKIPPED, at(300)), (RunStatus.PENDING, at(301))]
    after = await s.get_job(world.env, job.id)
    assert (after.skip_next, after.next_run_at) == (0, at(600))


async def test_tick_clears_a_timed_pause_that_has_passed(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=at(300))
    await s.set_timed_pause(world.env, job.id, T0, at(250), at(300))
    await s.tick(at(300), 10, planner({job.id: plan(at(300), next_run_at=at(600))}))
    assert (await s.get_job(world.env, job.id)).paused_until is None


async def test_backfill_creates_missing_instants_once_and_skips_existing(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=T0)
    await s.tick(at(1), 10, planner({job.id: plan(T0, next_run_at=at(300))}))
    made = await s.backfill(world.env, job.id, [T0, at(300), at(600)], at(700))
    assert [(r.scheduled_for, r.attempt, r.trigger.value, r.source.value) for r in made] == [
        (at(300), 1, "backfill", "schedule"), (at(600), 1, "backfill", "schedule")]
    # a queue of pick-up windows: the second run's counts from one window later
    assert [r.pickup_deadline for r in made] == [at(730), at(760)]
    assert all(r.due_at == at(700) and r.status is RunStatus.PENDING for r in made)
    assert await s.backfill(world.env, job.id, [T0, at(300), at(600)], at(800)) == []
    with pytest.raises(NotFound):
        await s.backfill(world.env2, job.id, [at(900)], at(1000))
    blocking = await world.job("b", blocking=True)
    with pytest.raises(Conflict):
        await s.backfill(world.env, blocking.id, [T0], at(1000))
    assert await world.store.list_executions(world.env, blocking.id, None, 10) == []


async def test_rerun_is_the_next_attempt_of_the_instant_and_waits_for_live_ones(
    world: World,
) -> None:
    s = world.store
    job = await world.job("a")
    [run] = await world.runs(job)
    with pytest.raises(Conflict):  # still pending
        await s.rerun(world.env, run.id, at(1))
    await s.complete(world.env, run.id, Completion(success=True), at(2))
    again = await s.rerun(world.env, run.id, at(3))
    assert (again.scheduled_for, again.source, again.attempt, again.trigger.value) == (
        run.scheduled_for, run.source, run.attempt + 1, "rerun")
    assert (again.status, again.due_at) == (RunStatus.PENDING, at(3))
    with pytest.raises(NotFound):
        await s.rerun(world.env2, run.id, at(4))
    await s.complete(world.env, again.id, Completion(success=False, error="x"), at(5))
    third = await s.rerun(world.env, run.id, at(6))  # from any attempt: the next one
    assert third.attempt == run.attempt + 2


async def test_cancel_other_tick_cancels_the_jobs_active_runs_and_runs(world: World) -> None:
    """overlap=cancel_other: the tick's new run is created and the job's runs still pending
    or running end ``cancelled`` in the same transaction (returned for the workers to be
    told); another job's runs and a tick that creates nothing cancel nothing."""
    s = world.store
    job = await world.job("a", next_run_at=T0, overlap="cancel_other", blocking=True)
    other = await world.job("b", next_run_at=T0)
    res = await s.tick(T0, 10, planner({job.id: plan(T0, next_run_at=at(60)),
                                        other.id: plan(T0, next_run_at=at(60))}))
    assert res.cancelled == []
    first = next(r for r in res.created if r.job_id == job.id)
    [running] = await s.claim(world.env, ["a"], ["sdk"], at(1), 10)
    assert running.id == first.id
    res = await s.tick(at(60), 10, planner({job.id: plan(at(60), next_run_at=at(120)),
                                            other.id: plan(at(60), next_run_at=at(120))}))
    assert [e.id for e in res.cancelled] == [first.id]
    [ended] = res.cancelled
    assert ended.status is RunStatus.CANCELLED and "cancel_other" in (ended.error or "")
    assert (await s.get_execution(world.env, first.id)).status is RunStatus.CANCELLED
    new = next(r for r in res.created if r.job_id == job.id)
    assert new.status is RunStatus.PENDING and new.scheduled_for == at(60)
    # the other job (allow) keeps both of its runs
    assert {r.status for r in await s.list_executions(world.env, other.id, None, 10)} == {
        RunStatus.PENDING}
