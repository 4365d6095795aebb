"""storage/db.py ``write()``: on SQLite every write runs on one kept connection, its BEGIN
IMMEDIATE and COMMIT sent to the driver. Whatever a write does (Core statements, driver
statements, an error, a collision, a cancellation), it is all committed or all rolled back,
and the next write starts clean. On PostgreSQL the same promises hold through the pool."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from schedo.server.domain.errors import Collision
from schedo.server.storage.schema import jobs
from tests.contract.kit import World


async def _names(world: World) -> list[str]:
    async with world.store.db.read() as c:
        return [r.name for r in await c.execute(select(jobs.c.name).order_by(jobs.c.name))]


async def _rename(c: object, job_id: int, name: str) -> None:
    await c.execute(jobs.update().where(jobs.c.id == job_id).values(name=name))  # type: ignore[attr-defined]


async def test_a_write_commits_core_and_driver_statements_together(world: World) -> None:
    a, b = await world.job("alpha"), await world.job("bravo")
    db = world.store.db
    async with db.write() as c:
        await _rename(c, a.id, "alpha-2")
        if db.is_sqlite:  # a statement sent to the driver alone, as prepared.py does
            raw = c.sync_connection.connection.dbapi_connection  # type: ignore[attr-defined]
            raw.execute("UPDATE jobs SET name = 'bravo-2' WHERE id = ?", (b.id,))
        else:
            await _rename(c, b.id, "bravo-2")
    assert await _names(world) == ["alpha-2", "bravo-2"]


async def test_an_error_rolls_back_the_whole_write_and_the_next_one_commits(
    world: World,
) -> None:
    a = await world.job("alpha")
    db = world.store.db
    with pytest.raises(RuntimeError):
        async with db.write() as c:
            await _rename(c, a.id, "changed")
            raise RuntimeError("the use case failed half-way")
    assert await _names(world) == ["alpha"]
    async with db.write() as c:
        await _rename(c, a.id, "alpha-2")
    assert await _names(world) == ["alpha-2"]
    assert db.checked_out() == 0


async def test_a_collision_rolls_back_and_the_writer_stays_usable(world: World) -> None:
    a, b = await world.job("alpha"), await world.job("bravo")
    db = world.store.db
    with pytest.raises(Collision):
        async with db.write() as c:
            await _rename(c, a.id, "alpha-2")
            await _rename(c, b.id, "alpha-2")  # the (environment, name) key
    assert await _names(world) == ["alpha", "bravo"]
    async with db.write() as c:
        await _rename(c, b.id, "bravo-2")
    assert await _names(world) == ["alpha", "bravo-2"]


async def test_a_cancelled_write_rolls_back(world: World) -> None:
    a = await world.job("alpha")
    db = world.store.db
    entered = asyncio.Event()

    async def slow() -> None:
        async with db.write() as c:
            await _rename(c, a.id, "changed")
            entered.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(slow())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _names(world) == ["alpha"]
    async with db.write() as c:
        assert (await c.execute(text("SELECT 1"))).scalar() == 1
    assert db.checked_out() == 0
