"""Catch-up after downtime (SPEC 3): none / latest / all, with the missed ticks recorded.

The server "goes down" at 12:09:30 and is back after the downtime; the job fires every
10 minutes. Ticks older than the misfire grace (15 s) when the ticker first sees them count
as missed.
"""

from __future__ import annotations

import pytest

from tests.engine.conftest import Engine

# downtime -> (ticks missed, expected runs per policy, expected skipped count per policy)
CASES = {
    # back at 12:09:30: nothing missed; the 12:10 tick runs on time
    0: (0, {"none": 1, "latest": 1, "all": 1}),
    59 * 60: (6, {"none": 0, "latest": 1, "all": 6}),
    3 * 3600: (18, {"none": 0, "latest": 1, "all": 18}),
}


@pytest.mark.parametrize("policy", ["none", "latest", "all"])
@pytest.mark.parametrize("downtime", sorted(CASES))
async def test_catch_up_policies(engine: Engine, policy: str, downtime: int) -> None:
    job = await engine.api.define(name=f"catch-{policy}", schedule="*/10 * * * *",
                                  catch_up=policy)
    assert job["next_run_at"] == "2026-11-28T12:10:00Z"
    engine.at("2026-11-28T12:09:30Z")
    engine.advance(downtime)
    await engine.tick()
    if downtime == 0:
        engine.at("2026-11-28T12:10:00Z")
        await engine.tick()
    missed, runs = CASES[downtime]
    execs = await engine.runs(job["id"])
    pending = [e for e in execs if e["status"] == "pending"]
    skipped = [e for e in execs if e["status"] == "skipped"]
    assert len(pending) == runs[policy], execs
    not_run = missed - runs[policy] if missed else 0
    if not_run:
        assert len(skipped) == 1
        assert f"missed {not_run} scheduled run" in skipped[0]["error"]
        assert f"catch_up={policy}" in skipped[0]["error"]
    else:
        assert skipped == []
    if policy == "latest" and missed:
        # the most recent missed tick is the one that runs
        assert pending[0]["scheduled_for"] == ("2026-11-28T13:00:00Z" if downtime < 3600
                                               else "2026-11-28T15:00:00Z")
    if policy == "all" and missed:
        assert [e["scheduled_for"] for e in pending][:2] == ["2026-11-28T12:10:00Z",
                                                             "2026-11-28T12:20:00Z"]
    # every tick instant is accounted for at most once, and next_run_at is in the future
    assert len({e["scheduled_for"] for e in execs}) == len(execs)
    nxt = (await engine.job(job["id"]))["job"]["next_run_at"]
    assert nxt is not None and nxt > execs[-1]["scheduled_for"]


async def test_all_is_capped_at_100_most_recent(engine: Engine) -> None:
    job = await engine.api.define(name="catch-all-cap", schedule="*/10 * * * *",
                                  catch_up="all")
    engine.at("2026-11-29T08:09:30Z")  # 20 h down: ticks 12:10 .. 08:00 = 120
    await engine.tick()
    r = await engine.api.client.get(f"/jobs/executions/{job['id']}?limit=200",
                                    headers=engine.api.admin)
    execs = r.json()
    pending = sorted(e["scheduled_for"] for e in execs if e["status"] == "pending")
    skipped = [e for e in execs if e["status"] == "skipped"]
    assert len(pending) == 100
    assert pending[-1] == "2026-11-29T08:00:00Z"
    assert pending[0] == "2026-11-28T15:30:00Z"  # the 100 most recent
    assert len(skipped) == 1 and "missed 20 scheduled run" in skipped[0]["error"]
    assert skipped[0]["scheduled_for"] == "2026-11-28T15:20:00Z"


async def test_latest_skips_a_tick_older_than_one_hour(engine: Engine) -> None:
    job = await engine.api.define(name="daily-two", schedule="0 2 * * *")
    engine.at("2026-11-29T03:30:00Z")  # the 02:00 tick is 1.5 h old
    await engine.tick()
    execs = await engine.runs(job["id"])
    assert [e["status"] for e in execs] == ["skipped"]
    assert "missed 1 scheduled run" in execs[0]["error"]
    assert (await engine.job(job["id"]))["job"]["next_run_at"] == "2026-11-30T02:00:00Z"


async def test_short_lag_within_grace_runs_every_tick(engine: Engine) -> None:
    """A busy or restarting scheduler that is a few seconds late loses nothing, whatever the
    policy: ticks younger than the grace are on time."""
    job = await engine.api.define(name="per-second", schedule="* * * * * *", catch_up="none")
    engine.at("2026-11-28T12:00:10Z")  # 10 s without a tick
    await engine.tick()
    execs = await engine.runs(job["id"])
    assert [e["scheduled_for"][-3:-1] for e in execs] == [f"{s:02d}" for s in range(1, 11)]
    assert all(e["status"] == "pending" for e in execs)


@pytest.mark.parametrize("policy", ["latest", "all"])
async def test_caught_up_runs_get_their_pick_up_window_from_when_they_are_created(
    engine: Engine, policy: str
) -> None:
    """After a downtime longer than the pick-up window, the caught-up runs do not expire at
    once: their window (min(timeout, 60 s)) starts when the ticker creates them."""
    job = await engine.api.define(name=f"late-{policy}", schedule="*/10 * * * *",
                                  catch_up=policy, timeout_seconds=30)
    engine.at("2026-11-28T12:35:00Z")  # 12:10, 12:20 and 12:30 were missed
    await engine.tick()
    assert await engine.reap() == []
    engine.advance(29)
    assert await engine.reap() == []
    claimed = await engine.claim(f"late-{policy}")
    assert len(claimed) == (1 if policy == "latest" else 3)
    assert all(e["status"] == "running" for e in claimed)
    # runs not picked up expire a window after their creation, as any other run
    job2 = await engine.api.define(name=f"idle-{policy}", schedule="*/10 * * * *",
                                   catch_up=policy, timeout_seconds=30)
    engine.at("2026-11-28T12:55:00Z")
    await engine.tick()
    engine.advance(29)
    assert [e for e in await engine.runs(job2["id"]) if e["status"] == "expired"] == []
    engine.advance(2)
    await engine.reap()
    expired = [e for e in await engine.runs(job2["id"]) if e["status"] == "expired"]
    assert expired and all("not picked up within 30s" in e["error"] for e in expired)
    assert job["id"] != job2["id"]
