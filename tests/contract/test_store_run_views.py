"""Contract: ``ExecutionStore.run_views`` (a job's runs as the API lists them, without a
``Run`` per row), on SQLite and PostgreSQL. Each row, through ``shapes.execution_view``,
is the answer ``shapes.execution`` makes of the same ``list_executions`` record; a job of
another environment is not found."""

from __future__ import annotations

import pytest

from schedo.server.api import shapes
from schedo.server.domain.errors import NotFound
from schedo.server.domain.records import Completion
from schedo.server.storage.run_views import VIEW_COLUMNS
from tests.contract.kit import FAIL, OK, World, at

ODD = {"é": ["x\u2028y", 1.5, 10**15, None, True], "nested": {"a": {"b": [1, 2.25]}}}


async def test_run_views_answer_like_the_listed_runs(world: World) -> None:
    s = world.store
    job = await world.job("a", metadata=ODD)
    runs = [await s.trigger(world.env, job.id, at(i + 0.123), payload={"n": i, "t": "ü"})
            for i in range(4)]
    await s.trigger(world.env, job.id, at(9))  # no payload: null
    await s.complete(world.env, runs[0].id, OK, at(20.5))
    await s.complete(world.env, runs[1].id, FAIL, at(21))
    report = Completion(success=True, output="ü\t\n", start_time=at(3), end_time=at(4.007))
    await s.claim(world.env, ["a"], ["sdk"], at(30), 1)
    await s.complete(world.env, runs[2].id, report, at(31))

    for cursor, limit in ((None, 50), (None, 2), (runs[3].id, 50), (runs[0].id, 50)):
        listed = await s.list_executions(world.env, job.id, cursor, limit)
        views = await s.run_views(world.env, job.id, cursor, limit)
        assert all(len(v) == len(VIEW_COLUMNS) for v in views)
        assert [shapes.execution_view(v) for v in views] == [shapes.execution(r) for r in listed]
    assert len(await s.run_views(world.env, job.id, None, 50)) == 5
    assert await s.run_views(world.env, job.id, runs[0].id, 50) == []
    empty = await world.job("b")  # a job without runs: none, not "not found"
    assert await s.run_views(world.env, empty.id, None, 50) == []


async def test_run_views_of_another_environment_are_not_found(world: World) -> None:
    job = await world.job("a", env=world.env2)
    await world.runs(job, 2)
    assert len(await world.store.run_views(world.env2, job.id, None, 10)) == 2
    for env in (world.env, world.other_env):
        with pytest.raises(NotFound):
            await world.store.run_views(env, job.id, None, 10)
    with pytest.raises(NotFound):
        await world.store.run_views(world.env2, job.id + 1000, None, 10)
