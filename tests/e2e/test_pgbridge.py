"""Cross-process wake-ups on PostgreSQL carry their topics: a long poll in another process is
woken by runs of its own jobs only, as within one process (pgbridge.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest

from schedo.server.runtime.bus import Bus
from schedo.server.runtime.pgbridge import MAX_PAYLOAD, PgBridge, decode, encode
from schedo.server.storage.db import asyncpg_dsn
from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database


def test_payloads_round_trip_and_fall_back_to_waking_everything() -> None:
    p = encode("me", "runs_ready", {3: {"b", "a"}})
    assert json.loads(p) == {"from": "me", "signal": "runs_ready", "topics": {"3": ["a", "b"]}}
    assert decode(p) == ("me", "runs_ready", {3: frozenset({"a", "b"})})
    assert decode(encode("me", "jobs_changed", None)) == ("me", "jobs_changed", None)
    big = encode("me", "runs_ready", {1: {f"job-{i:05d}" for i in range(2000)}})
    assert len(big.encode()) <= MAX_PAYLOAD and decode(big) == ("me", "runs_ready", None)
    assert decode("123-456:runs_ready") == ("123-456", "runs_ready", None)  # earlier form
    for garbage in ("{", '{"from": 1}', '{"from":"x","signal":"s","topics":[1]}', "nocolon"):
        assert decode(garbage) is None


@pytest.fixture
async def pg() -> AsyncIterator[str]:
    if not PG_URL:
        pytest.skip("needs SCHEDO_TEST_POSTGRES_URL")
    url = await _fresh_pg_database(PG_URL)
    try:
        yield asyncpg_dsn(url)
    finally:
        await _drop_pg_database(url)


@contextlib.asynccontextmanager
async def _process(dsn: str) -> AsyncIterator[Bus]:
    """One server process's bus, bridged."""
    bus = Bus()
    bridge = PgBridge(dsn, bus)
    bridge.install()
    task = asyncio.create_task(bridge.run())
    try:
        for _ in range(100):  # listening
            if bridge._conn is not None and not bridge._conn.is_closed():
                break
            await asyncio.sleep(0.05)
        yield bus
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_other_processes_wake_only_the_watches_concerned(pg: str) -> None:
    async with _process(pg) as a, _process(pg) as b:
        sig = b.runs_ready
        with sig.watch(1, ["nightly"]) as mine, sig.watch(1, None) as env_all, \
                sig.watch(2, ["nightly"]) as other_env:
            seen = sig.version
            a.runs_ready.notify({1: {"hourly"}})
            assert await env_all.wait(5)  # the whole environment: woken
            assert await sig.wait(5, seen)  # plain waiters (dispatchers): woken
            assert not await mine.wait(0.5)  # another job of its environment: not woken
            assert not await other_env.wait(0.1)  # another environment: not woken
            a.runs_ready.notify({1: {"hourly"}, 2: {"nightly"}})
            a.runs_ready.notify({1: {"nightly"}})  # same turn: coalesced into one NOTIFY
            assert await mine.wait(5) and await other_env.wait(5)
            a.runs_ready.notify(None)  # no topics: everyone
            assert await mine.wait(5) and await other_env.wait(5)
            # a notification is not echoed back to its own process
            before = a.runs_ready.version
            a.runs_ready.notify({1: {"x"}})
            assert await b.runs_ready.wait(5, seen)
            await asyncio.sleep(0.5)
            assert a.runs_ready.version == before + 1


async def test_notifications_of_one_turn_are_merged() -> None:
    bridge = PgBridge("postgresql://unused", Bus())
    bridge._queue("runs_ready", {1: {"a"}})
    bridge._queue("runs_ready", {1: {"b"}, 2: {"c"}})
    bridge._queue("jobs_changed", {1: {"a"}})
    bridge._queue("jobs_changed", None)  # everything wins over topics, before or after
    bridge._queue("jobs_changed", {3: {"d"}})
    assert bridge._pending == {"runs_ready": {1: {"a", "b"}, 2: {"c"}}, "jobs_changed": None}
