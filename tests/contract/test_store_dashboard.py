"""Contract: DashboardStore.recent_runs (the jobs table's run strips), on SQLite and
PostgreSQL: the latest runs of each job, oldest first, in one read, within the environment."""

from __future__ import annotations

from schedo.server.domain.model import RunStatus
from tests.contract.kit import FAIL, OK, World, at


async def test_recent_runs_are_the_latest_per_job_oldest_first(world: World) -> None:
    s = world.store
    a, b, idle = await world.job("a"), await world.job("b"), await world.job("idle")
    a_runs = [await s.trigger(world.env, a.id, at(i)) for i in range(7)]
    b_runs = [await s.trigger(world.env, b.id, at(100 + i)) for i in range(2)]
    await s.complete(world.env, a_runs[5].id, FAIL, at(50))
    await s.complete(world.env, a_runs[6].id, OK, at(51))
    foreign = await world.job("a", env=world.other_env)
    await s.trigger(world.other_env, foreign.id, at(1))

    got = await s.recent_runs(world.env, [a.id, b.id, idle.id, foreign.id, 999_999], 3)

    assert set(got) == {a.id, b.id}  # no runs, another tenant's job, unknown: absent
    assert [m.id for m in got[a.id]] == [r.id for r in a_runs[4:]]
    assert [m.status for m in got[a.id]] == [RunStatus.PENDING, RunStatus.FAILED,
                                             RunStatus.COMPLETED]  # fmt: skip
    assert [m.scheduled_for for m in got[a.id]] == [at(4), at(5), at(6)]
    assert all(m.job_id == a.id and m.attempt == 1 for m in got[a.id])
    assert [m.id for m in got[b.id]] == [r.id for r in b_runs]  # fewer than asked: all
    assert await s.recent_runs(world.env, [a.id], 1) == {a.id: got[a.id][-1:]}
    assert await s.recent_runs(world.env, [], 3) == {}
    assert await s.recent_runs(world.env, [a.id], 0) == {}
    other = await s.recent_runs(world.other_env, [a.id, foreign.id], 20)
    assert list(other) == [foreign.id] and len(other[foreign.id]) == 1
