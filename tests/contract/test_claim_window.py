"""A claim naming many codes (``claim_sql.window_statement`` on SQLite: first among the
earliest pending runs, then the codes' index for the rest) claims exactly the runs, and in the
order, that the earliest-due-first rule gives, wherever the named codes' runs fall among the
other jobs' runs: before, inside or beyond the window, or split across its edge. Brute force
is the judge. PostgreSQL runs the same checks on its one statement."""

from __future__ import annotations

import pytest

from schedo.server.domain.records import Run
from schedo.server.storage import claim_sql
from tests.contract.kit import World, at

MINE = [f"mine-{i:03d}" for i in range(20)]  # more than AMONG_INLINE: one bound parameter


async def _runs(world: World, names: list[str], due: list[float]) -> list[Run]:
    jobs = {n: await world.job(n) for n in names}
    made = []
    for i, t in enumerate(due):
        made += await world.runs(jobs[names[i % len(names)]], 1, now=at(t))
    return made


@pytest.mark.parametrize("layout", ["beyond", "inside", "across"])
async def test_a_claim_of_many_codes_takes_the_earliest_runs_of_those_codes(
    world: World, layout: str
) -> None:
    s = world.store
    limit = 5
    window = claim_sql.window_size(limit)
    others = [f"other-{i:02d}" for i in range(10)]
    # the other jobs' runs fill more than the window, due from t=0 on, one a second
    other_due = [float(t) for t in range(window + 30)]
    mine_due = {
        "beyond": [window + 100.0 + t for t in range(8)],  # all after the window's reach
        "inside": [5.5 + t for t in range(8)],  # all in it
        "across": [window - 2.5, window - 1.5, window + 50.0, window + 51.0, window + 52.0,
                   window + 53.0],  # two in it, the rest beyond
    }[layout]
    await _runs(world, others, other_due)
    mine = await _runs(world, MINE, mine_due)
    expected = sorted(mine, key=lambda r: (r.due_at, r.id))
    now = at(10_000)
    got: list[int] = []
    while True:
        claimed = await s.claim(world.env, MINE, ["sdk"], now, limit)
        if not claimed:
            break
        in_order = sorted(claimed, key=lambda r: (r.due_at, r.id))
        assert [r.id for r in claimed] == [r.id for r in in_order]
        assert all(r.job_code in MINE and r.status.value == "running" for r in claimed)
        assert len(claimed) == min(limit, len(expected) - len(got))
        got += [r.id for r in claimed]
    assert got == [r.id for r in expected]  # each exactly once, earliest due first
    # the other jobs' runs are all still pending
    left = await s.claim(world.env, others, ["sdk"], now, 1000)
    assert len(left) == len(other_due)
