"""PostgreSQL: the autocommit connections of ``Database.read()`` are kept between reads
(storage/pg_kept.KeptConnections): a read reuses the last one's session, a failure gives
every kept one back to the pool, a session the server ended fails one read and is
replaced, at most ``keep`` wait idle, and none counts as checked out."""

from __future__ import annotations

import asyncio

import pytest

from schedo.server.domain.errors import Unavailable
from schedo.server.storage import pg_kept
from schedo.server.storage.sql import SqlStore


def _db(store: SqlStore) -> object:
    if store.db.is_sqlite:
        pytest.skip("PostgreSQL's readers")
    return store.db


async def _pid(store: SqlStore) -> int:
    async with store.db.read() as c:
        return int((await c.exec_driver_sql("SELECT pg_backend_pid()")).scalar())


async def test_a_read_reuses_the_last_readers_session(store: SqlStore) -> None:
    _db(store)
    first = await _pid(store)
    assert await _pid(store) == first
    assert store.db.checked_out() == 0


async def test_a_failed_read_drops_the_kept_readers(store: SqlStore) -> None:
    _db(store)
    first = await _pid(store)
    with pytest.raises(Unavailable):
        async with store.db.read() as c:
            await c.exec_driver_sql("SELECT no_such_column FROM jobs")
    assert store.db._pg_readers.idle == []  # given back to the pool, which may hand it out
    assert isinstance(first, int) and isinstance(await _pid(store), int)


async def test_a_session_ended_by_the_server_fails_once(store: SqlStore) -> None:
    _db(store)
    first = await _pid(store)
    async with store.db.write() as c:
        await c.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
    await asyncio.sleep(0.1)
    with pytest.raises(Unavailable):
        await _pid(store)
    assert await _pid(store) != first


async def test_at_most_keep_readers_wait_idle(store: SqlStore) -> None:
    _db(store)
    readers = store.db._pg_readers
    gate = asyncio.Event()

    async def held() -> None:
        async with store.db.read() as c:
            await c.exec_driver_sql("SELECT 1")
            await gate.wait()

    tasks = [asyncio.create_task(held()) for _ in range(readers.keep + 2)]
    await asyncio.sleep(0.2)
    assert store.db.checked_out() == readers.keep + 2
    gate.set()
    await asyncio.gather(*tasks)
    assert len(readers.idle) == readers.keep
    assert store.db.checked_out() == 0


async def test_a_reader_goes_back_to_the_pool_after_its_time(
        store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _db(store)
    first = await _pid(store)
    monkeypatch.setattr(pg_kept, "KEEP_SECONDS", 0.0)
    await _pid(store)  # kept too long: given back to the pool at its end
    assert store.db._pg_readers.idle == []
    monkeypatch.setattr(pg_kept, "KEEP_SECONDS", 60.0)
    assert isinstance(first, int)
