"""Contract: RetentionStore (storage/contracts.py), on SQLite and PostgreSQL: old history is
deleted in small primary-key windows, never a live run nor the run a job shows."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from schedo.server.domain.model import RunStatus
from schedo.server.storage.schema import notification_deliveries
from tests.contract.kit import FAIL, OK, T0, Stores, World, at, build_world, plan, planner

BEFORE = at(500)


async def _history(world: World, n: int, env: int | None = None, name: str = "a") -> list[int]:
    """``n`` old completed runs of one job (created at T0, ended at T0 + 1 s); their ids."""
    job = await world.job(name, env=env)
    runs = await world.runs(job, n)
    await world.store.complete_many(job.environment_id, [(r.id, OK) for r in runs], at(1))
    return [r.id for r in runs]


async def _ids(world: World, env: int, job_id: int) -> list[int]:
    return sorted(e.id for e in await world.store.list_executions(env, job_id, None, 100))


async def test_prune_executions_keeps_live_runs_and_each_jobs_latest_ones(world: World) -> None:
    s = world.store
    a = await world.job("a", next_run_at=at(15))
    r1 = await world.claimed(a, now=T0)
    await s.complete(world.env, r1.id, OK, at(1))
    r2 = await world.claimed(a, now=at(10))
    await s.complete(world.env, r2.id, FAIL, at(11))
    [s1] = (await s.tick(at(15), 10, planner({a.id: plan(
        skipped_at=at(14), skipped_error="missed", next_run_at=at(9999))}))).created
    r3 = await world.claimed(a, now=at(20))  # the latest non-skipped run: what the job shows
    await s.complete(world.env, r3.id, OK, at(21))
    await s.update_job_flags(world.env, a.id, at(25), paused=False, next_run_at=at(30))
    [s2] = (await s.tick(at(30), 10, planner({a.id: plan(
        skipped_at=at(29), skipped_error="missed", next_run_at=at(9999))}))).created
    b = await world.job("b")
    [live_pending] = await world.runs(b, now=at(40))
    running = await world.claimed(await world.job("c"), now=at(41))
    theirs = await _history(world, 2, env=world.other_env, name="t")  # server-wide
    t_job = (await s.get_execution(world.other_env, theirs[1])).job_id

    res = await s.prune_executions(BEFORE, 0, 100)

    assert res.deleted == 4  # r1, r2, s1 and the older run of "t"
    assert res.done is True
    assert res.next_after_id == max(theirs)
    assert await _ids(world, world.env, a.id) == [r3.id, s2.id]
    assert s1.status == RunStatus.SKIPPED
    assert (await s.get_execution(world.env, live_pending.id)).status == RunStatus.PENDING
    assert (await s.get_execution(world.env, running.id)).status == RunStatus.RUNNING
    assert await _ids(world, world.other_env, t_job) == [theirs[1]]


async def test_prune_executions_steps_through_windows_of_limit_ids(world: World) -> None:
    s = world.store
    ids = await _history(world, 7)
    first = await s.prune_executions(BEFORE, 0, 3)
    assert (first.deleted, first.next_after_id, first.done) == (3, ids[2], False)
    second = await s.prune_executions(BEFORE, first.next_after_id, 3)
    assert (second.deleted, second.next_after_id, second.done) == (3, ids[5], False)
    last = await s.prune_executions(BEFORE, second.next_after_id, 3)
    assert (last.deleted, last.next_after_id, last.done) == (0, ids[6], True)  # the latest
    empty = await s.prune_executions(BEFORE, ids[6], 3)
    assert (empty.deleted, empty.next_after_id, empty.done) == (0, ids[6], True)


async def test_prune_executions_is_done_at_a_window_created_at_or_after_before(
    world: World,
) -> None:
    ids = await _history(world, 5)
    res = await world.store.prune_executions(T0, 0, 3)  # every row is created at ``T0``
    assert (res.deleted, res.next_after_id, res.done) == (0, ids[2], True)


async def test_concurrent_prunes_never_delete_a_row_twice_nor_the_latest_run(
    stores: Stores,
) -> None:
    world = await build_world(await stores.open())
    procs = [world.store, await stores.open()]
    ids = await _history(world, 12)
    results = await asyncio.gather(*(procs[i % 2].prune_executions(BEFORE, 0, 100)
                                     for i in range(4)))
    assert sum(r.deleted for r in results) == 11
    job = (await world.store.get_execution(world.env, ids[-1])).job_id
    assert await _ids(world, world.env, job) == [ids[-1]]


async def test_prune_notifications_keeps_unsent_and_recent_ones(world: World) -> None:
    s = world.store
    await s.add_email(world.org, "ops@example.com", T0)
    for name, t in (("sent", 0), ("pending", 10)):
        job = await world.job(name)
        run = await world.claimed(job, now=at(t))
        await s.complete(world.env, run.id, FAIL, at(t + 1))
    assert await s.fan_out(at(12), None, 10) == 2
    for due in await s.due_deliveries(at(12), 10):
        if due.notification.job_name == "sent":
            assert await s.mark_sent(due.delivery.id, at(13))
    for name, t in (("unfanned", 20), ("recent", 600)):
        job = await world.job(name)
        run = await world.claimed(job, now=at(t))
        await s.complete(world.env, run.id, FAIL, at(t + 1))

    res = await s.prune_notifications(BEFORE, 0, 100)

    assert (res.deleted, res.done) == (1, True)
    left = [r.notification.job_name for r in await s.list_notifications(world.org, 10)]
    assert left == ["recent", "unfanned", "pending"]
    async with s.db.read() as c:  # its deliveries went with it
        count = (await c.execute(select(func.count()).select_from(
            notification_deliveries))).scalar_one()
    assert count == 1
