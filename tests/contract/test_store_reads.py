"""Contract: the read models without a suite of their own, on SQLite and PostgreSQL:
``DashboardStore.count_runs_since`` (the overview's runs of the last 24 hours) and
``ExplainStore.runs_from`` (the runs an explanation of an instant reads). Both stay within
the environment."""

from __future__ import annotations

import pytest

from schedo.server.domain.errors import NotFound
from schedo.server.domain.model import RunStatus, Source, Trigger
from tests.contract.kit import FAIL, OK, World, at, plan, planner

# -- count_runs_since ---------------------------------------------------------------------------


async def test_count_runs_since_counts_by_status_from_the_instant_on(world: World) -> None:
    s = world.store
    a, b = await world.job("a"), await world.job("b")
    early = await s.trigger(world.env, a.id, at(0))  # scheduled before ``since``
    runs = [await s.trigger(world.env, j.id, at(10 + i)) for i, j in enumerate([a, a, b, b])]
    await s.complete(world.env, early.id, OK, at(5))
    await s.complete(world.env, runs[0].id, OK, at(20))
    await s.complete(world.env, runs[1].id, FAIL, at(20))
    await s.claim(world.env, ["b"], ["sdk"], at(30), 1)

    got = await s.count_runs_since(world.env, at(10))

    assert got == {"completed": 1, "failed": 1, "running": 1, "pending": 1}
    assert await s.count_runs_since(world.env, at(11)) == {"failed": 1, "running": 1,
                                                             "pending": 1}  # at or after
    assert await s.count_runs_since(world.env, at(0)) == {"completed": 2, "failed": 1,
                                                            "running": 1, "pending": 1}
    assert await s.count_runs_since(world.env, at(100)) == {}  # none: no keys at all


async def test_count_runs_since_stays_in_the_environment(world: World) -> None:
    s = world.store
    mine = await world.job("a")
    await s.trigger(world.env, mine.id, at(10))
    for env in (world.env2, world.other_env):
        theirs = await world.job("a", env=env)
        await s.trigger(env, theirs.id, at(10))
        await s.trigger(env, theirs.id, at(11))
    assert await s.count_runs_since(world.env, at(0)) == {"pending": 1}
    assert await s.count_runs_since(world.other_env, at(0)) == {"pending": 2}
    assert await s.count_runs_since(999_999, at(0)) == {}


async def test_count_runs_since_counts_skipped_runs_too(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=at(0))
    await s.tick(at(1), 10, planner({job.id: plan(at(0), next_run_at=at(300), skipped_at=at(-60),
                                                  skipped_error="missed")}))
    assert await s.count_runs_since(world.env, at(-60)) == {"pending": 1, "skipped": 1}


# -- runs_from ----------------------------------------------------------------------------------


async def test_runs_from_reads_the_schedule_runs_from_an_instant(world: World) -> None:
    s = world.store
    job = await world.job("a", next_run_at=at(0), max_retries=1)
    await s.tick(at(1), 10, planner({job.id: plan(at(0), at(60), at(120),
                                                  next_run_at=at(300))}))
    await s.trigger(world.env, job.id, at(200))  # manual: not one of the schedule's runs
    [first] = await s.claim(world.env, ["a"], ["sdk"], at(1), 1)
    await s.complete(world.env, first.id, FAIL, at(2))  # its retry: attempt 2, same instant

    got, oldest = await s.runs_from(world.env, job.id, at(0))

    assert [(r.scheduled_for, r.attempt) for r in got] == [
        (at(0), 1), (at(0), 2), (at(60), 1), (at(120), 1)]  # by instant, then attempt
    assert all(r.source is Source.SCHEDULE for r in got)
    assert got[1].trigger is Trigger.RETRY and got[0].status is RunStatus.FAILED
    assert oldest == at(0)  # the oldest retained run of the job
    later, _ = await s.runs_from(world.env, job.id, at(60))
    assert [r.scheduled_for for r in later] == [at(60), at(120)]
    limited, _ = await s.runs_from(world.env, job.id, at(0), limit=2)
    assert [(r.scheduled_for, r.attempt) for r in limited] == [(at(0), 1), (at(0), 2)]
    assert (await s.runs_from(world.env, job.id, at(121)))[0] == []


async def test_runs_from_of_a_job_without_runs(world: World) -> None:
    job = await world.job("a")
    assert await world.store.runs_from(world.env, job.id, at(0)) == ([], None)


async def test_the_oldest_run_counts_every_source(world: World) -> None:
    s = world.store
    job = await world.job("a")
    await s.trigger(world.env, job.id, at(-500))
    assert await s.runs_from(world.env, job.id, at(0)) == ([], at(-500))


async def test_runs_from_refuses_a_job_of_another_environment(world: World) -> None:
    s = world.store
    theirs = await world.job("a", env=world.other_env)
    await s.trigger(world.other_env, theirs.id, at(0))
    for env, job_id in ((world.env, theirs.id), (world.env2, theirs.id), (world.env, 999_999)):
        with pytest.raises(NotFound):
            await s.runs_from(env, job_id, at(0))
