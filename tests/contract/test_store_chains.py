"""Contract: chains (storage/contracts/chains.py), on SQLite and PostgreSQL. An end of an
upstream run fires its downstream jobs in the ending transaction, exactly once per upstream
end, whichever process records it; a fan-in waits for every upstream within the window."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from schedo.server.domain.errors import NotFound
from schedo.server.domain.model import JobStatus, JobType, RunStatus, Source, Trigger
from schedo.server.domain.records import Job, Run
from schedo.server.storage.contracts import collect_chained
from tests.contract.kit import FAIL, OK, T0, Stores, World, at, build_world

SDK = [JobType.SDK.value]


def after(*jobs: str, on: str = "success", within: int = 600) -> dict[str, object]:
    return {"jobs": list(jobs), "on": on, "within_seconds": within}


async def chained(world: World, job: Job) -> list[Run]:
    runs = await world.store.list_executions(world.env, job.id, None, 100)
    return [e for e in runs if e.source is Source.CHAIN][::-1]


async def end(world: World, job: Job, seconds: float, report=OK) -> Run:  # type: ignore[no-untyped-def]
    [run] = await world.runs(job, now=at(seconds - 1))
    done, _ = await world.store.complete(world.env, run.id, report, at(seconds))
    return done


async def test_an_upstream_success_fires_one_downstream_run(world: World) -> None:
    s = world.store
    up = await world.job("extract")
    down = await world.job("load", after=after("extract"))
    with collect_chained() as made:
        first = await end(world, up, 10)
    [run] = await chained(world, down)
    assert [e.id for e in made] == [run.id]
    assert (run.status, run.source, run.trigger, run.attempt) == (
        RunStatus.PENDING, Source.CHAIN, Trigger.CHAIN, 1)
    assert run.scheduled_for == first.end_time == at(10)
    assert (await s.get_job(world.env, down.id)).status is JobStatus.PENDING
    # the same report again changes nothing: no second run
    await s.complete(world.env, first.id, OK, at(11))
    assert len(await chained(world, down)) == 1
    assert [e.id for e in (await s.run_chain(world.env, run.id)).causes] == [first.id]
    assert [e.id for e in (await s.run_chain(world.env, first.id)).effects] == [run.id]
    # the downstream run is claimed like any other
    assert [e.id for e in await s.claim(world.env, ["load"], SDK, at(12), 5)] == [run.id]
    second = await end(world, up, 20)
    runs = await chained(world, down)
    assert len(runs) == 2 and runs[1].scheduled_for == second.end_time


async def test_a_fan_in_waits_for_every_upstream(world: World) -> None:
    e = await world.job("extract")
    t = await world.job("transform")
    down = await world.job("load", after=after("extract", "transform"))
    e1 = await end(world, e, 10)
    assert await chained(world, down) == []
    t1 = await end(world, t, 20)
    [run] = await chained(world, down)
    assert run.scheduled_for == at(20)
    assert {c.id for c in (await world.store.run_chain(world.env, run.id)).causes} == {
        e1.id, t1.id}
    await end(world, t, 30)  # extract has no new end: nothing
    assert len(await chained(world, down)) == 1
    await end(world, e, 40)  # with transform's end at 30
    runs = await chained(world, down)
    assert len(runs) == 2 and runs[1].scheduled_for == at(40)


async def test_ends_outside_the_window_are_passed_over(world: World) -> None:
    e = await world.job("extract")
    t = await world.job("transform")
    down = await world.job("load", after=after("extract", "transform", within=600))
    await end(world, e, 0)
    await end(world, t, 700)  # 700 s after extract's end: too late
    assert await chained(world, down) == []
    e2 = await end(world, e, 800)  # transform's end is 100 s before: fires
    [run] = await chained(world, down)
    assert run.scheduled_for == e2.end_time


async def test_on_failure_waits_for_the_last_attempt(world: World) -> None:
    s = world.store
    up = await world.job("extract", max_retries=1)
    on_fail = await world.job("cleanup", after=after("extract", on="failure"))
    on_ok = await world.job("load", after=after("extract", on="success"))
    on_any = await world.job("report", after=after("extract", on="completion"))
    await end(world, up, 10, FAIL)  # a retry follows: not final yet
    for job in (on_fail, on_ok, on_any):
        assert await chained(world, job) == []
    retry = [e for e in await s.list_executions(world.env, up.id, None, 10)
             if e.trigger is Trigger.RETRY]
    assert len(retry) == 1
    [got] = await s.claim(world.env, ["extract"], SDK, at(100), 1)
    await s.complete(world.env, got.id, FAIL, at(110))
    assert len(await chained(world, on_fail)) == 1
    assert len(await chained(world, on_any)) == 1
    assert await chained(world, on_ok) == []


async def test_an_expired_last_attempt_counts_as_a_failure(world: World) -> None:
    s = world.store
    up = await world.job("extract", timeout_seconds=30)
    down = await world.job("cleanup", after=after("extract", on="failure"))
    [run] = await world.runs(up, now=T0)
    expired = await s.expire_overdue(at(3600))
    assert [e.id for e in expired] == [run.id]
    [made] = await chained(world, down)
    assert made.scheduled_for == at(3600)


async def test_skipped_and_cancelled_runs_never_count(world: World) -> None:
    s = world.store
    up = await world.job("extract")
    down = await world.job("load", after=after("extract", on="completion"))
    [run] = await world.runs(up)
    await s.cancel(world.env, run.id, at(5))
    assert await chained(world, down) == []


async def test_a_paused_downstream_job_is_not_fired(world: World) -> None:
    s = world.store
    up = await world.job("extract")
    down = await world.job("load", after=after("extract"))
    await s.update_job_flags(world.env, down.id, T0, paused=True)
    await end(world, up, 10)
    assert await chained(world, down) == []


async def test_a_blocking_downstream_job_records_a_skipped_run(world: World) -> None:
    up = await world.job("extract")
    down = await world.job("load", after=after("extract"), blocking=True)
    await world.runs(down)  # a manual run still pending
    first = await end(world, up, 10)
    [run] = await chained(world, down)
    assert run.status is RunStatus.SKIPPED and "blocking" in (run.error or "")
    assert [c.id for c in (await world.store.run_chain(world.env, run.id)).causes] == [first.id]


async def test_concurrent_enders_of_a_fan_in_fire_exactly_once(stores: Stores) -> None:
    world = await build_world(await stores.open())
    other = await stores.open()
    e = await world.job("extract")
    t = await world.job("transform")
    down = await world.job("load", after=after("extract", "transform", within=3600))
    for cycle in range(5):
        now = at(100 * (cycle + 1))
        [re] = await world.runs(e, now=now)
        [rt] = await world.runs(t, now=now)
        await asyncio.gather(world.store.complete(world.env, re.id, OK, now),
                             other.complete(world.env, rt.id, OK, now))
        runs = await chained(world, down)
        assert len(runs) == cycle + 1, f"cycle {cycle}: {len(runs)} downstream runs"
        causes = (await world.store.run_chain(world.env, runs[-1].id)).causes
        assert {c.id for c in causes} == {re.id, rt.id}


async def test_chain_reads_and_their_tenancy(world: World) -> None:
    s = world.store
    e = await world.job("extract")
    t = await world.job("transform", after=after("extract"))
    load = await world.job("load", after=after("extract", "transform"))
    assert await s.chain_graph(world.env) == {"transform": ["extract"],
                                              "load": ["extract", "transform"]}
    assert await s.chain_graph(world.env2) == {}
    ch = await s.job_chain(world.env, t.id)
    assert [j.name for j in ch.upstream] == ["extract"]
    assert [j.name for j in ch.downstream] == ["load"]
    assert [j.name for j in (await s.job_chain(world.env, e.id)).downstream] == [
        "load", "transform"]
    first = await end(world, e, 10)
    for env in (world.env2, world.other_env):
        with pytest.raises(NotFound):
            await s.job_chain(env, load.id)
        with pytest.raises(NotFound):
            await s.run_chain(env, first.id)
    # deleting an upstream job takes its causes with it; the chain then names it as missing
    await s.delete_job(world.env, e.id)
    ch = await s.job_chain(world.env, load.id)
    assert ch.missing == ["extract"] and [j.name for j in ch.upstream] == ["transform"]
    [run] = await chained(world, t)
    assert (await s.run_chain(world.env, run.id)).causes == []


async def test_two_cycles_ending_in_one_millisecond_make_two_runs(world: World) -> None:
    s = world.store
    up = await world.job("extract")
    down = await world.job("load", after=after("extract"))
    a, b = await world.runs(up, 2, now=T0)
    out = await s.complete_many(world.env, [(a.id, OK), (b.id, OK)], at(10))
    assert len(out) == 2
    runs = await chained(world, down)
    assert [r.scheduled_for for r in runs] == [at(10), at(10) + timedelta(milliseconds=1)]
