"""A claim wakes the reaper only when the claimed runs' deadline comes before the reaper's own
next wake (bus.deadlines_added), and never while the reaper's next wake is unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schedo.server.runtime.bus import Bus
from schedo.server.scheduler.reaper import MAX_IDLE
from tests.engine.conftest import Engine

GRACE = timedelta(seconds=5)  # the run deadline is the timeout plus this (test_runs.py)


async def _due(engine: Engine, name: str, timeout_seconds: int) -> None:
    await engine.api.define(name=name, schedule="* * * * *", timeout_seconds=timeout_seconds)
    engine.at("2026-11-28T12:01:00Z")
    await engine.tick()


async def test_the_reaper_says_when_it_wakes_and_forgets_it_while_it_runs(
    engine: Engine,
) -> None:
    bus = engine.api.svc.bus
    assert bus.reaper_wakes_at is None  # no reaper pass yet: unknown
    engine.at("2026-11-28T12:00:00Z")
    await engine.reaper.step()
    # no live run: its own idle wake at most
    assert bus.reaper_wakes_at is not None
    assert bus.reaper_wakes_at <= engine.now + timedelta(seconds=MAX_IDLE)
    await _due(engine, "soon", 20)
    [run] = await engine.claim("soon")
    await engine.reaper.step()
    assert bus.reaper_wakes_at == engine.now + timedelta(seconds=20) + GRACE
    seen = []

    async def during_pass(*args: object, **kw: object) -> list[object]:
        seen.append(bus.reaper_wakes_at)
        return []

    engine.reaper.reap_once = during_pass  # type: ignore[method-assign]
    await engine.reaper.step()
    assert seen == [None]  # a claim committed during a pass always wakes it again
    assert run["status"] == "running"


async def test_a_claim_due_after_the_reapers_wake_lets_it_sleep(engine: Engine) -> None:
    bus = engine.api.svc.bus
    await _due(engine, "long", 3600)
    await engine.reaper.step()
    before = bus.deadlines_changed.version
    [_run] = await engine.claim("long")
    assert bus.deadlines_changed.version == before


async def test_a_claim_due_before_the_reapers_wake_wakes_it(engine: Engine) -> None:
    bus = engine.api.svc.bus
    engine.at("2026-11-28T12:00:59Z")
    await engine.reaper.step()  # no live run: it would sleep its idle time
    assert bus.reaper_wakes_at is not None
    await _due(engine, "short", 1)
    before = bus.deadlines_changed.version
    [run] = await engine.claim("short")  # its run deadline, 1 + 5 s away, comes first
    assert bus.deadlines_changed.version == before + 1
    # woken, the reaper's pass finds the run's deadline and expires the run on time
    await engine.reaper.step()
    assert bus.reaper_wakes_at == engine.now + timedelta(seconds=1) + GRACE
    engine.advance(6)
    [gone] = await engine.reap()
    assert gone.id == run["id"]


async def test_while_the_wake_is_unknown_every_claim_wakes_the_reaper(engine: Engine) -> None:
    bus = engine.api.svc.bus
    await _due(engine, "unknown", 3600)
    before = bus.deadlines_changed.version
    await engine.claim("unknown")  # no reaper pass has run here
    assert bus.deadlines_changed.version == before + 1


def test_deadlines_added_compares_with_the_earliest_deadline() -> None:
    bus = Bus()
    engine_now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    bus.reaper_wakes_at = engine_now + timedelta(seconds=30)
    v = bus.deadlines_changed.version
    bus.deadlines_added([None])  # a run without a deadline: nothing to wake for
    bus.deadlines_added([engine_now + timedelta(seconds=30)])  # the wake itself: not earlier
    bus.deadlines_added([])
    assert bus.deadlines_changed.version == v
    bus.deadlines_added([engine_now + timedelta(seconds=60), engine_now + timedelta(seconds=29)])
    assert bus.deadlines_changed.version == v + 1
