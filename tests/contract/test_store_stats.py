"""Contract: StatsStore and the Store's own calls (ping, write_failure, close), on SQLite and
PostgreSQL."""

from __future__ import annotations

from schedo.server.domain.model import JobType
from tests.contract.kit import FAIL, OK, T0, World, at

HOOK = "https://alerts.example.com/schedo"


async def test_live_counts_of_an_empty_database_are_zero(world: World) -> None:
    counts = await world.store.live_counts()
    assert (counts.runs, counts.notifications_unfanned, counts.deliveries_pending) == ({}, 0, {})


async def test_live_counts_counts_live_runs_unfanned_notifications_and_pending_deliveries(
    world: World,
) -> None:
    s = world.store
    await s.add_email(world.org, "ops@example.com", T0)
    # two turns fanned out (email + webhook each), one email sent
    for name in ("a", "b"):
        run = await world.claimed(await world.job(name))
        await s.complete(world.env, run.id, FAIL, at(1))
    assert await s.fan_out(at(2), HOOK, 10) == 2
    first = (await s.due_deliveries(at(3), 10))[0]
    assert first.delivery.channel == "email"
    await s.mark_sent(first.delivery.id, at(4))
    # the other three stay pending (leased: a claim does not end a delivery)
    # one turn not fanned out yet
    run = await world.claimed(await world.job("c"), now=at(5))
    await s.complete(world.env, run.id, FAIL, at(6))
    # live runs: sdk 2 pending + 1 running (one more ended), push 1 pending, in two tenants
    sdk = await world.job("sdk")
    await world.runs(sdk, 2, now=at(10))
    await world.claimed(await world.job("sdk", env=world.other_env), now=at(10))
    ended = await world.claimed(await world.job("ended"), now=at(10))
    await s.complete(world.env, ended.id, OK, at(11))
    await world.runs(await world.job("p", type=JobType.PUSH, webhook_url=HOOK), now=at(10))

    counts = await s.live_counts()

    assert counts.runs == {("sdk", "pending"): 2, ("sdk", "running"): 1, ("push", "pending"): 1}
    assert counts.notifications_unfanned == 1
    assert counts.deliveries_pending == {"email": 1, "webhook": 2}


async def test_ping_and_write_failure_pass_and_close_releases_every_connection(
    world: World,
) -> None:
    s = world.store
    await s.ping()
    assert await s.write_failure() is None
    await s.close()
    assert s.db.checked_out() == 0
    for engine in (s.db.read_engine, s.db.write_engine):
        assert engine.pool.checkedout() == 0  # type: ignore[union-attr]
