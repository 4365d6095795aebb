"""Contract: JobStore (storage/contracts.py), on SQLite and PostgreSQL. A job of another
environment answers like a missing one."""

from __future__ import annotations

import asyncio

import pytest

from schedo.server.domain.errors import NotFound
from schedo.server.domain.model import JobType
from tests.contract.kit import T0, Stores, World, at, build_world, plan, planner, spec


async def test_upsert_job_creates_then_updates_the_job_of_that_name(world: World) -> None:
    s = world.store
    job, created = await s.upsert_job(world.env, spec("a"), T0, at(300), True)
    assert created is True
    assert (job.environment_id, job.name, job.next_run_at, job.created_at) == (
        world.env, "a", at(300), T0)
    assert (job.paused, job.muted, job.retry_count, job.metadata) == (
        False, False, 0, {"team": "ops"})
    again, created = await s.upsert_job(world.env, spec("a", timeout_seconds=90,
                                                        metadata={"v": 2}), at(10), None, False)
    assert created is False
    assert again.id == job.id
    assert (again.timeout_seconds, again.metadata, again.updated_at) == (90, {"v": 2}, at(10))
    assert await s.list_jobs(world.env) == [again]


async def test_an_identical_redefinition_writes_nothing(world: World) -> None:
    """What is stored already is not written again: ``updated_at`` stays the last real
    change. A value of another JSON type or a new key order is a change."""
    s = world.store
    meta = {"a": 1, "b": [1, 2]}
    job, _ = await s.upsert_job(world.env, spec("a", metadata=meta, crons=("0 3 * * *",),
                                                channels=["ops"]), T0, at(300), True)
    same, created = await s.upsert_job(world.env, spec("a", metadata=dict(meta),
                                                       crons=("0 3 * * *",), channels=["ops"]),
                                       at(10), at(900), False)
    assert not created and same == job and same.updated_at == T0
    assert await s.list_jobs(world.env) == [job]
    for n, changed in enumerate([{"a": True, "b": [1, 2]}, {"b": [1, 2], "a": True},
                                 {"b": [1, 2], "a": 1.0}]):
        moved, _ = await s.upsert_job(world.env, spec("a", metadata=changed,
                                                      crons=("0 3 * * *",), channels=["ops"]),
                                      at(20 + n), None, False)
        assert moved.metadata == changed and list(moved.metadata) == list(changed)
        assert moved.updated_at == at(20 + n)
    timed, _ = await s.upsert_job(world.env, spec("a", metadata={"b": [1, 2], "a": 1.0},
                                                  crons=("0 3 * * *",), channels=["ops"],
                                                  timeout_seconds=61), at(30), None, False)
    assert (timed.timeout_seconds, timed.updated_at) == (61, at(30))


async def test_upsert_job_keeps_paused_muted_and_history(world: World) -> None:
    s = world.store
    job = await world.job("a")
    [run] = await world.runs(job)
    await s.update_job_flags(world.env, job.id, T0, paused=True, muted=True)
    updated, created = await s.upsert_job(world.env, spec("a", max_retries=3), at(5),
                                          at(600), True)
    assert not created
    assert (updated.id, updated.paused, updated.muted, updated.max_retries) == (
        job.id, True, True, 3)
    assert updated.next_run_at is None  # paused: the new schedule's next run is not stored
    assert [e.id for e in await s.list_executions(world.env, job.id, None, 10)] == [run.id]


async def test_upsert_job_keeps_next_run_at_unless_the_schedule_changed(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=at(300))
    kept, _ = await s.upsert_job(world.env, spec("a"), at(1), at(999), False)
    assert kept.next_run_at == at(300)
    moved, _ = await s.upsert_job(world.env, spec("a", cron_expression="0 * * * *"), at(2),
                                  at(3600), True)
    assert moved.id == job.id
    assert (moved.next_run_at, moved.cron_expression) == (at(3600), "0 * * * *")


async def test_upsert_job_judged_changed_on_an_old_read_keeps_the_stored_schedule(
    world: World,
) -> None:
    """Two workers define one job at once: both read "no such job", one creates it, and
    the other's write comes later (a slow request) with changed=True. The schedule stored is
    already the one it brings, so the job keeps its next_run_at and anchor: re-anchoring it
    would drop the ticks not yet made while the ticker lagged (scale-out test, under load)."""
    s = world.store
    job = await world.job("a", next_run_at=at(300))
    same, created = await s.upsert_job(world.env, spec("a"), at(310), at(311), True)
    assert (same.id, created) == (job.id, False)
    assert (same.next_run_at, same.anchor_at) == (at(300), job.anchor_at)


async def test_concurrent_upserts_of_one_name_make_one_job(stores: Stores) -> None:
    world = await build_world(await stores.open())
    procs = [world.store, await stores.open()]
    results = await asyncio.gather(*(
        procs[i % 2].upsert_job(world.env, spec("racy", timeout_seconds=10 + i), T0, at(300),
                                True)
        for i in range(6)
    ))
    assert len({job.id for job, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    assert len(await world.store.list_jobs(world.env)) == 1


async def test_get_job_of_another_environment_is_not_found(world: World) -> None:
    job = await world.job("a", env=world.env2)
    for env in (world.env, world.other_env):
        with pytest.raises(NotFound):
            await world.store.get_job(env, job.id)
    with pytest.raises(NotFound):
        await world.store.get_job(world.env2, job.id + 1000)
    assert (await world.store.get_job(world.env2, job.id)).id == job.id


async def test_get_job_by_name_is_scoped_to_the_environment(world: World) -> None:
    job = await world.job("a", env=world.env)
    assert await world.store.get_job_by_name(world.env, "a") == job
    assert await world.store.get_job_by_name(world.env2, "a") is None
    assert await world.store.get_job_by_name(world.env, "b") is None
    twin = await world.job("a", env=world.env2)  # the same name elsewhere: another job
    assert twin.id != job.id
    assert await world.store.get_job_by_name(world.env2, "a") == twin


async def test_list_jobs_lists_the_environments_jobs_by_id(world: World) -> None:
    c = await world.job("c")
    a = await world.job("a")
    await world.job("b", env=world.env2)
    assert await world.store.list_jobs(world.env) == [c, a]
    assert await world.store.list_jobs(world.other_env) == []


async def test_delete_job_takes_all_of_its_executions(world: World) -> None:
    s = world.store
    job = await world.job("a")
    runs = await world.runs(job, 2)
    other = await world.job("b")
    [kept] = await world.runs(other)
    await s.delete_job(world.env, job.id)
    with pytest.raises(NotFound):
        await s.get_job(world.env, job.id)
    for run in runs:
        with pytest.raises(NotFound):
            await s.get_execution(world.env, run.id)
    with pytest.raises(NotFound):
        await s.list_executions(world.env, job.id, None, 10)
    assert (await s.get_execution(world.env, kept.id)).id == kept.id


async def test_delete_job_of_another_environment_is_not_found(world: World) -> None:
    job = await world.job("a", env=world.env2)
    [run] = await world.runs(job)
    with pytest.raises(NotFound):
        await world.store.delete_job(world.env, job.id)
    with pytest.raises(NotFound):
        await world.store.delete_job(world.env2, job.id + 1000)
    assert (await world.store.get_execution(world.env2, run.id)).id == run.id


async def test_update_job_flags_leaves_flags_given_as_none_alone(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=at(300))
    muted = await s.update_job_flags(world.env, job.id, at(1), muted=True)
    assert (muted.muted, muted.paused, muted.next_run_at, muted.updated_at) == (
        True, False, at(300), at(1))
    same = await s.update_job_flags(world.env, job.id, at(2))
    assert (same.muted, same.paused, same.next_run_at, same.webhook_url, same.type) == (
        True, False, at(300), None, JobType.SDK)


async def test_pause_stores_no_next_run_and_resume_stores_the_given_one(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=at(300))
    paused = await s.update_job_flags(world.env, job.id, at(1), paused=True, next_run_at=at(5))
    assert (paused.paused, paused.next_run_at) == (True, None)
    resumed = await s.update_job_flags(world.env, job.id, at(2), paused=False,
                                       next_run_at=at(600))
    assert (resumed.paused, resumed.next_run_at) == (False, at(600))


async def test_set_webhook_makes_a_push_job_and_clearing_it_an_sdk_job(world: World) -> None:
    s = world.store
    job = await world.job("a")
    push = await s.update_job_flags(world.env, job.id, at(1),
                                    webhook_url="https://hooks.example.com/x", set_webhook=True)
    assert (push.type, push.webhook_url) == (JobType.PUSH, "https://hooks.example.com/x")
    ignored = await s.update_job_flags(world.env, job.id, at(2), webhook_url="https://other")
    assert ignored.webhook_url == "https://hooks.example.com/x"  # set_webhook not given
    sdk = await s.update_job_flags(world.env, job.id, at(3), webhook_url=None, set_webhook=True)
    assert (sdk.type, sdk.webhook_url) == (JobType.SDK, None)


async def test_update_job_flags_of_another_environment_is_not_found(world: World) -> None:
    job = await world.job("a", env=world.env2)
    with pytest.raises(NotFound):
        await world.store.update_job_flags(world.env, job.id, at(1), paused=True)
    assert (await world.store.get_job(world.env2, job.id)).paused is False


async def test_job_with_last_run_is_the_job_and_its_latest_run_that_is_not_skipped(
    world: World,
) -> None:
    s = world.store
    job = await world.job("a")
    assert await s.job_with_last_run(world.env, job.id, T0) == (job, None, 0)
    first, second = await world.runs(job, 2)
    got_job, got_run, _ = await s.job_with_last_run(world.env, job.id, T0)
    assert got_job.id == job.id and got_run == await s.get_execution(world.env, second.id)
    assert got_run == await s.last_run(world.env, job.id)
    # a skipped record of a later tick does not count
    await s.tick(at(400), 10, planner({job.id: plan(skipped_at=at(350), next_run_at=at(900))}))
    assert (await s.job_with_last_run(world.env, job.id, T0))[1] == got_run
    for env in (world.env2, world.other_env):
        with pytest.raises(NotFound):
            await s.job_with_last_run(env, job.id, T0)
    with pytest.raises(NotFound):
        await s.job_with_last_run(world.env, 987654, T0)
    assert first.id < second.id


async def test_job_with_last_run_counts_live_workers_of_its_name_and_environment(
    world: World,
) -> None:
    """The count is ``count_connections``'s for the job's name: workers seen since the given
    instant, of this environment only."""
    s = world.store
    job = await world.job("a")
    other = await world.job("b")
    await s.touch_connections(world.env, ["a", "b"], "w1", at(10))
    await s.touch_connections(world.env, ["a"], "w2", at(10))
    await s.touch_connections(world.env, ["a"], "old", at(1))
    await s.touch_connections(world.env2, ["a"], "w3", at(10))
    assert (await s.job_with_last_run(world.env, job.id, at(5)))[2] == 2
    assert (await s.job_with_last_run(world.env, other.id, at(5)))[2] == 1
    assert (await s.job_with_last_run(world.env, job.id, at(0)))[2] == 3
    assert (await s.count_connections(world.env, ["a"], at(5))) == {"a": 2}
    assert (await s.job_with_last_run(world.env, job.id, at(11)))[2] == 0
