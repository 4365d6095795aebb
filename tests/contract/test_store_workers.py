"""Contract: WorkerStore (storage/contracts.py), on SQLite and PostgreSQL: worker connections
shared through the database by every server process."""

from __future__ import annotations

from tests.contract.kit import T0, Stores, World, at, build_world


async def test_count_connections_counts_distinct_live_workers_per_code(stores: Stores) -> None:
    world = await build_world(await stores.open())
    other_process = await stores.open()
    s = world.store
    await s.touch_connections(world.env, ["a", "b"], "w1", T0)
    await other_process.touch_connections(world.env, ["a"], "w2", T0)
    await s.touch_connections(world.env, ["a"], "w1", at(1))  # an upsert: still one row
    await s.touch_connections(world.env2, ["a"], "w3", T0)  # another environment
    for reader in (s, other_process):
        assert await reader.count_connections(world.env, ["a", "b", "c"], T0) == {"a": 2, "b": 1}
    assert await s.count_connections(world.env2, ["a", "b"], T0) == {"a": 1}


async def test_count_connections_follows_the_workers_heartbeat(world: World) -> None:
    s = world.store
    await s.touch_connections(world.env, ["a"], "w1", T0)
    await s.touch_connections(world.env, ["a"], "w2", T0)
    assert await s.count_connections(world.env, ["a"], at(30)) == {}  # heartbeats too old
    await s.heartbeat(world.env, "w1", at(60))
    assert await s.count_connections(world.env, ["a"], at(30)) == {"a": 1}
    assert await s.count_connections(world.env, ["a"], at(60)) == {"a": 1}  # at or after
    await s.heartbeat(world.env2, "w2", at(60))  # a heartbeat is per environment
    assert await s.count_connections(world.env, ["a"], at(30)) == {"a": 1}


async def test_drop_connections_forgets_only_that_workers_codes(world: World) -> None:
    s = world.store
    await s.touch_connections(world.env, ["a", "b"], "w1", T0)
    await s.touch_connections(world.env, ["a"], "w2", T0)
    await s.touch_connections(world.env2, ["a"], "w1", T0)
    await s.drop_connections(world.env, ["a"], "w1")
    assert await s.count_connections(world.env, ["a", "b"], T0) == {"a": 1, "b": 1}
    assert await s.count_connections(world.env2, ["a"], T0) == {"a": 1}


async def test_prune_connections_deletes_rows_last_written_before(world: World) -> None:
    s = world.store
    await s.touch_connections(world.env, ["a", "b"], "old", T0)  # 2 code rows, 1 heartbeat
    await s.touch_connections(world.env, ["a"], "new", at(100))
    await s.heartbeat(world.env, "beating", T0)  # a heartbeat alone
    assert await s.prune_connections(at(50)) == 4
    assert await s.prune_connections(at(50)) == 0
    assert await s.count_connections(world.env, ["a", "b"], T0) == {"a": 1}
    await s.heartbeat(world.env, "old", at(100))  # its code rows are gone
    assert await s.count_connections(world.env, ["a", "b"], T0) == {"a": 1}
