"""Contract: SchedulerStore (storage/contracts.py), on SQLite and PostgreSQL: ticks made
exactly once, and expiry of runs past their deadlines with the restart grace."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from schedo.server.domain.model import JobStatus, JobType, RunStatus, Source, Trigger
from tests.contract.kit import FAIL, T0, Stores, World, at, build_world, plan, planner

SDK = [JobType.SDK.value]


# -- next run and tick ------------------------------------------------------------------------


async def test_earliest_next_run_at_is_the_smallest_over_unpaused_jobs(world: World) -> None:
    s = world.store
    assert await s.earliest_next_run_at() is None
    first = await world.job("a", next_run_at=at(60))
    await world.job("b", env=world.other_env, next_run_at=at(90))
    assert await s.earliest_next_run_at() == at(60)
    await s.update_job_flags(world.env, first.id, T0, paused=True)
    assert await s.earliest_next_run_at() == at(90)


async def test_tick_creates_the_planned_runs_of_due_jobs(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=T0, metadata={"m": 1}, timeout_seconds=30)
    res = await s.tick(at(1), 10, planner({job.id: plan(T0, next_run_at=at(300))}))
    assert res.jobs == 1
    [run] = res.created
    assert (run.job_id, run.status, run.source, run.trigger, run.attempt) == (
        job.id, RunStatus.PENDING, Source.SCHEDULE, Trigger.SCHEDULE, 1)
    assert (run.scheduled_for, run.due_at, run.pickup_deadline, run.created_at) == (
        T0, T0, at(30), at(1))
    assert run.metadata == {"m": 1}
    assert await s.get_execution(world.env, run.id) == run
    after = await s.get_job(world.env, job.id)
    assert (after.next_run_at, after.status, after.last_run_at, after.retry_count) == (
        at(300), JobStatus.PENDING, T0, 0)


async def test_tick_touches_only_due_unpaused_jobs_not_set_aside(world: World) -> None:
    s = world.store
    due = await world.job("due", next_run_at=T0)
    later = await world.job("later", next_run_at=at(60))
    paused = await world.job("paused", next_run_at=T0)
    await s.update_job_flags(world.env, paused.id, T0, paused=True)
    aside = await world.job("aside", next_run_at=T0)
    seen: list[int] = []
    plans = {j.id: plan(T0, next_run_at=at(600)) for j in (due, later, paused, aside)}
    res = await s.tick(at(1), 10, planner(plans, seen), skip=[aside.id])
    assert (res.jobs, seen, [e.job_id for e in res.created]) == (1, [due.id], [due.id])
    assert (await s.get_job(world.env, later.id)).next_run_at == at(60)
    assert (await s.get_job(world.env, aside.id)).next_run_at == T0
    assert await s.list_executions(world.env, aside.id, None, 10) == []


async def test_tick_handles_at_most_limit_jobs_oldest_due_first(world: World) -> None:
    s = world.store
    jobs = [await world.job(n, next_run_at=at(-t)) for n, t in (("a", 10), ("b", 30), ("c", 20))]
    plans = {j.id: plan(j.next_run_at, next_run_at=at(600)) for j in jobs}
    seen: list[int] = []
    res = await s.tick(T0, 2, planner(plans, seen))
    assert res.jobs == 2
    assert seen == [jobs[1].id, jobs[2].id]
    res = await s.tick(T0, 2, planner(plans, seen))
    assert (res.jobs, seen[2:]) == (1, [jobs[0].id])
    nothing = await s.tick(T0, 2, planner(plans))
    assert (nothing.jobs, nothing.created) == (0, [])


async def test_tick_is_idempotent_per_instant(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=T0)
    same = planner({job.id: plan(T0, next_run_at=T0)})  # leaves the job due at T0
    first = await s.tick(T0, 10, same)
    again = await s.tick(at(1), 10, same)
    assert len(first.created) == 1
    assert (again.jobs, again.created) == (1, [])
    assert [e.id for e in await s.list_executions(world.env, job.id, None, 10)] == [
        first.created[0].id]
    [manual] = await world.runs(job, now=T0)  # a manual run at the same instant is its own
    assert manual.scheduled_for == T0 and manual.source == Source.MANUAL


async def test_a_tick_of_many_jobs_returns_its_runs_as_stored(world: World) -> None:
    """The tick inserts in chunks (run_insert.CHUNKS) and builds the runs it returns from
    what it wrote: every one equals its stored row (times in whole milliseconds), a run
    that existed already is not returned, and the others still are."""
    s = world.store
    jobs = [await world.job(f"m{i}", next_run_at=T0, metadata={"i": i, "ü": [None]})
            for i in range(127)]  # 100 + 20 + 4 + 1 + 1 + 1
    taken = planner({jobs[5].id: plan(T0, next_run_at=T0)})
    others = [j.id for j in jobs if j is not jobs[5]]
    [before] = (await s.tick(at(0), 500, taken, skip=others)).created  # made before
    now = at(1) + timedelta(microseconds=123_456)
    res = await s.tick(now, 500, planner({j.id: plan(T0, next_run_at=at(300)) for j in jobs}))
    assert res.jobs == 127
    assert sorted(e.job_id for e in res.created) == sorted(others)
    for run in res.created:
        assert await s.get_execution(world.env, run.id) == run
        assert run.created_at == at(1) + timedelta(milliseconds=123)
    assert before.id not in {e.id for e in res.created}


async def test_concurrent_schedulers_never_create_a_tick_twice(stores: Stores) -> None:
    world = await build_world(await stores.open())
    procs = [world.store, await stores.open(), await stores.open()]
    jobs = [await world.job(f"j{i}", next_run_at=T0) for i in range(12)]
    for stay_due in (True, False):  # the unique key alone, then with the rows moving on
        instant = T0 if stay_due else at(1)
        plans = {j.id: plan(instant, next_run_at=instant if stay_due else at(600))
                 for j in jobs}
        limit = 100 if stay_due else 5  # each tick sees every job / schedulers split them
        results = await asyncio.gather(*(p.tick(at(2), limit, planner(plans))
                                         for p in procs * 2))
        created = [(e.job_id, e.scheduled_for) for r in results for e in r.created]
        assert sorted(created) == sorted((j.id, instant) for j in jobs)
        if stay_due:  # ready for the second round: due again at ``at(1)``
            await world.store.tick(at(2), 100, planner(
                {j.id: plan(next_run_at=at(1)) for j in jobs}))


async def test_tick_skips_a_blocking_jobs_run_while_its_previous_one_is_live(
    world: World,
) -> None:
    s = world.store
    blocked = await world.job("blocked", blocking=True, next_run_at=T0)
    await world.claimed(blocked, now=at(-5))
    twice = await world.job("twice", blocking=True, next_run_at=T0)
    free = await world.job("free", blocking=False, next_run_at=T0)
    [_] = await world.runs(free, now=at(-5))
    res = await s.tick(T0, 10, planner({
        blocked.id: plan(T0, next_run_at=at(60)),
        twice.id: plan(at(-60), T0, next_run_at=at(60)),
        free.id: plan(T0, next_run_at=at(60)),
    }))
    got = {(e.job_code, e.scheduled_for): e for e in res.created}
    assert got["blocked", T0].status == RunStatus.SKIPPED
    assert "previous run" in (got["blocked", T0].error or "")
    assert got["blocked", T0].end_time == T0
    assert got["twice", at(-60)].status == RunStatus.PENDING
    assert got["twice", T0].status == RunStatus.SKIPPED  # a second run in the same batch
    assert got["free", T0].status == RunStatus.PENDING
    assert (await s.get_job(world.env, blocked.id)).last_run_at == at(-5)


async def test_tick_records_missed_ticks_and_opens_late_runs_window_from_now(
    world: World,
) -> None:
    s = world.store
    job = await world.job("a", next_run_at=at(-600), timeout_seconds=30)
    res = await s.tick(at(5), 10, planner({job.id: plan(
        at(-300), T0, caught_up=[at(-300)], skipped_at=at(-600),
        skipped_error="missed 1 scheduled run(s)", next_run_at=at(300))}))
    got = {e.scheduled_for: e for e in res.created}
    assert (got[at(-600)].status, got[at(-600)].error) == (RunStatus.SKIPPED,
                                                           "missed 1 scheduled run(s)")
    assert got[at(-300)].pickup_deadline == at(35)  # caught up: window counted from now
    assert got[T0].pickup_deadline == at(30)
    assert (await s.get_job(world.env, job.id)).last_run_at == T0


# -- deadlines and expiry ---------------------------------------------------------------------


async def test_expire_overdue_expires_runs_past_their_deadlines(world: World) -> None:
    s = world.store
    job = await world.job("a", timeout_seconds=30)
    running = await world.claimed(job, now=T0)  # run deadline T0 + 30 + 5 s
    [unpicked] = await world.runs(job, now=at(1))  # pick-up deadline T0 + 1 + 30 s
    [fresh] = await world.runs(job, now=at(40))
    assert await s.overdue_ids(at(30)) == []
    assert await s.overdue_ids(at(32)) == [unpicked.id]
    [first] = await s.expire_overdue(at(32))
    assert (first.id, first.status, first.end_time) == (unpicked.id, RunStatus.EXPIRED, at(32))
    assert "not picked up" in (first.error or "")
    assert await s.overdue_ids(at(36)) == [running.id]
    [second] = await s.expire_overdue(at(36))
    assert (second.id, second.status) == (running.id, RunStatus.EXPIRED)
    assert "no result reported" in (second.error or "")
    assert await s.get_execution(world.env, running.id) == second
    assert (await s.get_execution(world.env, fresh.id)).status == RunStatus.PENDING
    assert await s.expire_overdue(at(36)) == []
    assert (await s.get_job(world.env, job.id)).status == JobStatus.PENDING  # ``fresh``


async def test_expire_overdue_creates_the_retry_and_updates_the_job(world: World) -> None:
    s = world.store
    job = await world.job("a", timeout_seconds=30, max_retries=1)
    [run] = await world.runs(job, now=T0)
    [expired] = await s.expire_overdue(at(31))
    [retry, _] = await s.list_executions(world.env, job.id, None, 10)
    assert (retry.attempt, retry.trigger, retry.status, retry.scheduled_for) == (
        2, Trigger.RETRY, RunStatus.PENDING, run.scheduled_for)
    assert retry.due_at > at(31)
    after = await s.get_job(world.env, job.id)
    assert (after.status, after.retry_count) == (JobStatus.PENDING, 1)
    [again] = await s.expire_overdue(retry.pickup_deadline)
    assert again.id == retry.id
    assert len(await s.list_executions(world.env, job.id, None, 10)) == 2  # no retry left
    assert (await s.get_job(world.env, job.id)).status == JobStatus.FAILED
    assert expired.id == run.id


async def test_expire_overdue_leaves_deadlines_before_held_before(world: World) -> None:
    s = world.store
    job = await world.job("a", timeout_seconds=30)
    [old] = await world.runs(job, now=T0)  # deadline T0 + 30 s: passed while no server ran
    [recent] = await world.runs(job, now=at(100))  # deadline T0 + 130 s
    assert await s.overdue_ids(at(200), held_before=at(120)) == [recent.id]
    assert [e.id for e in await s.expire_overdue(at(200), held_before=at(120))] == [recent.id]
    assert (await s.get_execution(world.env, old.id)).status == RunStatus.PENDING
    assert await s.earliest_deadline(not_before=at(120)) is None
    assert await s.earliest_deadline() == at(30)


async def test_expire_overdue_leaves_skipped_ids_alone_and_takes_only_those_asked(
    world: World,
) -> None:
    s = world.store
    job = await world.job("a", timeout_seconds=30)
    a, b, c = await world.runs(job, 3, now=T0)
    assert sorted(await s.overdue_ids(at(60), skip=[a.id])) == [b.id, c.id]
    assert [e.id for e in await s.expire_overdue(at(60), skip=[a.id], only=[a.id, b.id])] == [
        b.id]
    assert (await s.get_execution(world.env, a.id)).status == RunStatus.PENDING
    assert (await s.get_execution(world.env, c.id)).status == RunStatus.PENDING
    assert len(await s.overdue_ids(at(60), limit=1)) == 1


async def test_expire_overdue_returns_at_most_a_batch_of_1000(world: World) -> None:
    s = world.store
    job = await world.job("bulk", next_run_at=T0, timeout_seconds=10)
    instants = [T0 + timedelta(milliseconds=i) for i in range(1001)]
    res = await s.tick(T0, 10, planner({job.id: plan(*instants, next_run_at=at(600))}))
    assert len(res.created) == 1001
    assert len(await s.expire_overdue(at(60))) == 1000
    assert len(await s.expire_overdue(at(60))) == 1
    assert await s.expire_overdue(at(60)) == []


async def test_expire_overdue_with_only_reaches_ids_beyond_the_first_batch(world: World) -> None:
    s = world.store
    job = await world.job("bulk", next_run_at=T0, timeout_seconds=10)
    instants = [T0 + timedelta(milliseconds=i) for i in range(1001)]
    await s.tick(T0, 10, planner({job.id: plan(*instants, next_run_at=at(600))}))
    batch = set(await s.overdue_ids(at(60)))
    [beyond] = set(await s.overdue_ids(at(60), limit=2000)) - batch
    assert [e.id for e in await s.expire_overdue(at(60), only=[beyond])] == [beyond]


async def test_earliest_deadline_is_the_nearest_of_live_runs(world: World) -> None:
    s = world.store
    job = await world.job("a", timeout_seconds=30)
    assert await s.earliest_deadline() is None
    running = await world.claimed(job, now=T0)  # run deadline T0 + 35 s
    assert await s.earliest_deadline() == at(35)
    [pending] = await world.runs(job, now=at(1))  # pick-up deadline T0 + 31 s
    assert await s.earliest_deadline() == at(31)
    assert await s.earliest_deadline(not_before=at(32)) == at(35)
    await s.complete(world.env, pending.id, FAIL, at(2))
    await s.complete(world.env, running.id, FAIL, at(2))
    assert await s.earliest_deadline() is None
