"""storage/prepared.py: a statement run as a pre-compiled driver statement answers what the
same Core statement answers through SQLAlchemy, on both databases (PostgreSQL: on asyncpg,
in an autocommit read and inside a write transaction, pg_driver.py), and a driver error
leaves ``Database.read()`` and ``Database.write()`` as SQLAlchemy's would."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, literal_column, select

from schedo.server.domain.errors import Collision, SchedoError, Unavailable
from schedo.server.storage import run_views, sql_jobs, sql_tenants
from schedo.server.storage.prepared import Prepared
from schedo.server.storage.schema import executions, jobs
from tests.contract.kit import T0, World, at


async def _both(world: World, p: Prepared, params: dict[str, Any]) -> tuple[Any, Any]:
    async with world.store.db.read() as c:
        core = (await c.execute(p.stmt, params)).all()
        mine = await p.all(c, params)
        first = await p.first(c, params)
    assert first == (mine[0] if mine else None)
    if not world.store.db.is_sqlite:  # the driver's own path was taken (compiled once)
        assert p._pg_form is not None
    return core, mine


def _same(core: list[Any], mine: list[Any]) -> None:
    assert [tuple(r) for r in mine] == [tuple(r) for r in core]
    assert [dict(r._mapping) for r in mine] == [dict(r._mapping) for r in core]
    for got, want in zip(mine, core, strict=True):
        for name in want._mapping:
            assert getattr(got, name) == getattr(want, name)
            assert type(getattr(got, name)) is type(getattr(want, name))


async def test_key_lookup_answers_as_core(world: World) -> None:
    key = await world.key(name="worker")
    await world.store.revoke_key(world.org, key.id, None, T0)
    for p, params in [
        (sql_tenants._RESOLVE_FIRST_ENV, {"prefix": world.admin.prefix}),
        (sql_tenants._RESOLVE_ENV, {"prefix": world.admin.prefix, "wanted": world.env2}),
        (sql_tenants._RESOLVE_ENV, {"prefix": world.admin.prefix, "wanted": world.other_env}),
        (sql_tenants._RESOLVE_FIRST_ENV, {"prefix": key.prefix}),  # revoked: still the row
        (sql_tenants._RESOLVE_FIRST_ENV, {"prefix": "nosuchprefix"}),
    ]:
        core, mine = await _both(world, p, params)
        _same(core, mine)
    core, mine = await _both(world, sql_tenants._RESOLVE_FIRST_ENV, {"prefix": key.prefix})
    assert mine[0].revoked is True and core[0].revoked is True


async def test_job_with_its_last_run_answers_as_core(world: World) -> None:
    job = await world.job("a", metadata={"team": "ops", "n": [1, 2]})
    params = {"job_id": job.id, "env_id": world.env, "since": at(5)}
    _same(*await _both(world, sql_jobs._JOB_WITH_LAST_RUN, params))  # no run: NULL columns
    run = await world.claimed(job)
    await world.store.touch_connections(world.env, ["a"], "w1", at(10))
    core, mine = await _both(world, sql_jobs._JOB_WITH_LAST_RUN, params)
    _same(core, mine)
    assert mine[0].run_id == run.id and mine[0].live_connections == 1
    assert mine[0].metadata == {"team": "ops", "n": [1, 2]}
    _same(*await _both(world, sql_jobs._JOB_WITH_LAST_RUN, {**params, "env_id": world.env2}))


async def test_job_reads_and_run_views_answer_as_core(world: World) -> None:
    job = await world.job("a")
    await world.job("b", metadata={})
    await world.job("c", env=world.env2)
    first = await world.claimed(job)
    await world.runs(job, 3)
    for p, params in [
        (sql_jobs._JOBS_OF_ENV, {"env_id": world.env}),
        (sql_jobs._JOBS_OF_ENV, {"env_id": world.other_env}),
        (sql_jobs._JOB_BY_NAME, {"env_id": world.env, "name": "a"}),
        (sql_jobs._CURRENT, {"env_id": world.env, "name": "b"}),
        (sql_jobs._CURRENT, {"env_id": world.env2, "name": "a"}),
        (run_views.VIEW, {"job_id": job.id, "env_id": world.env, "limit": 3}),
        (run_views.VIEW, {"job_id": job.id, "env_id": world.env2, "limit": 3}),
        (run_views.VIEW_BELOW,
         {"job_id": job.id, "env_id": world.env, "limit": 10, "cursor": first.id + 2}),
    ]:
        core, mine = await _both(world, p, params)
        _same(core, mine)
    assert len((await _both(world, sql_jobs._JOBS_OF_ENV, {"env_id": world.env}))[1]) == 2


async def test_many_rows_literals_and_defaults_answer_as_core(world: World) -> None:
    job = await world.job("a")
    await world.runs(job, 3)
    stmt = (select(executions.c.id, executions.c.due_at, jobs.c.paused, executions.c.metadata)
            .join(jobs, jobs.c.id == executions.c.job_id)
            .where(executions.c.job_id == bindparam("jid"), executions.c.status == "pending",
                   executions.c.attempt >= bindparam("least", 0))
            .order_by(executions.c.id))
    p = Prepared(stmt)
    core, mine = await _both(world, p, {"jid": job.id})
    _same(core, mine)
    assert len(mine) == 3
    _same(*await _both(world, p, {"jid": job.id, "least": 5}))


async def test_a_driver_error_leaves_read_as_through_core(world: World) -> None:
    p = Prepared(select(literal_column("no_such_column")).select_from(jobs))
    raised = []
    for use_core in (True, False):
        with pytest.raises(SchedoError) as info:
            async with world.store.db.read() as c:
                if use_core:
                    await c.execute(p.stmt)
                else:
                    await p.all(c, {})
        raised.append((type(info.value), info.value.status if hasattr(info.value, "status")
                       else None))
    assert raised[0] == raised[1]
    async with world.store.db.read() as c:  # and the next read works
        assert (await sql_tenants._RESOLVE_FIRST_ENV.first(c, {"prefix": "x"})) is None


async def test_a_write_transaction_reads_through_its_transaction(world: World) -> None:
    """Inside ``write()`` a read, even the first statement, runs in the transaction (on
    PostgreSQL on asyncpg, the adapter's transaction begun first), so a write made inside
    is seen and a ``FOR UPDATE`` holds its lock to the commit."""
    p = Prepared(sql_jobs._CURRENT_READ, sql_jobs._CURRENT_READ.with_for_update())
    job = await world.job("a")
    db = world.store.db
    async with db.write() as c:
        first = await p.first(c, {"env_id": world.env, "name": "a"})
        if not db.is_sqlite:  # the row is locked by this transaction until it ends
            with pytest.raises(SchedoError, match="lock"):
                async with db.read() as other:
                    await other.execute(select(jobs.c.id).where(jobs.c.id == job.id)
                                        .with_for_update(nowait=True))
        await c.execute(jobs.update().where(jobs.c.id == job.id).values(command="inside"))
        got = await p.all(c, {"env_id": world.env, "name": "a"})
    assert first is not None and first.id == job.id
    assert [r.command for r in got] == ["inside"]
    assert (p._pg_form is None) == db.is_sqlite


_SET_COMMAND = Prepared(jobs.update().where(jobs.c.id == bindparam("jid"))
                        .values(command=bindparam("cmd")).returning(jobs.c.command))


async def _command(world: World, job_id: int) -> Any:
    async with world.store.db.read() as c:
        return (await c.execute(select(jobs.c.command).where(jobs.c.id == job_id))).scalar()


async def _write_command(world: World, job_id: int, command: str) -> None:
    """A write of its own that sets the job's command on the driver; read back after."""
    async with world.store.db.write() as c:
        await _SET_COMMAND.all(c, {"jid": job_id, "cmd": command})
    assert await _command(world, job_id) == command


async def test_a_write_on_the_driver_commits_and_rolls_back_with_its_transaction(
    world: World,
) -> None:
    job = await world.job("a")
    db = world.store.db
    with pytest.raises(RuntimeError):
        async with db.write() as c:  # the driver's statement is the transaction's first
            assert [r.command for r in await _SET_COMMAND.all(c, {"jid": job.id,
                                                                  "cmd": "gone"})] == ["gone"]
            raise RuntimeError("rolled back")
    assert await _command(world, job.id) == job.command
    await _write_command(world, job.id, "kept")


async def test_a_driver_error_in_a_write_leaves_it_as_through_core(world: World) -> None:
    """A refused statement inside ``write()`` gives the error Core would (a duplicate key:
    ``Collision``; any other: the database's error), rolls back what the transaction wrote,
    and the next write works."""
    a = await world.job("a")
    b = await world.job("b")
    duplicate = Prepared(jobs.update().where(jobs.c.id == bindparam("jid"))
                         .values(name=bindparam("name")).returning(jobs.c.id))
    broken = Prepared(select(literal_column("no_such_column")).select_from(jobs))
    db = world.store.db
    for p, params, want in [(duplicate, {"jid": b.id, "name": "a"}, Collision),
                            (broken, {}, Unavailable)]:
        raised = []
        for use_core in (True, False):
            with pytest.raises(SchedoError) as info:
                async with db.write() as c:
                    await _SET_COMMAND.all(c, {"jid": a.id, "cmd": "lost"})
                    if use_core:
                        await c.execute(p.elsewhere, params)
                    else:
                        await p.all(c, params)
            raised.append(type(info.value))
        assert raised == [want, want]
    await _write_command(world, a.id, "after")


async def test_a_connection_lost_in_a_write_is_replaced(world: World) -> None:
    """PostgreSQL: the server ends the write connection's session mid-transaction; the
    write fails as the database being away, and the next one gets a new connection."""
    db = world.store.db
    if db.is_sqlite:
        pytest.skip("PostgreSQL's sessions")
    job = await world.job("a")
    with pytest.raises(Unavailable):
        async with db.write() as c:
            await _SET_COMMAND.all(c, {"jid": job.id, "cmd": "lost"})
            pid = (await c.exec_driver_sql("SELECT pg_backend_pid()")).scalar()
            async with db.read() as other:
                await other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            await _SET_COMMAND.all(c, {"jid": job.id, "cmd": "lost again"})
    async with db.write() as c:
        assert [r.command for r in await _SET_COMMAND.all(
            c, {"jid": job.id, "cmd": "after"})] == ["after"]


_SET_COMMAND_ALONE = Prepared(_SET_COMMAND.stmt, writes=True)


async def test_a_statement_of_its_own_commits_alone_and_fails_as_a_write(
    world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``one_statement()`` with ``Prepared(..., writes=True)`` (a PostgreSQL claim with its
    mirror): committed by itself, seen by the next read; a refused statement gives the
    error ``write()`` gives (a duplicate key: ``Collision``; any other: ``Unavailable``) and
    is never run a second time through SQLAlchemy, as an autocommit read would be."""
    db = world.store.db
    if not db.claims_alone:
        pytest.skip("PostgreSQL's claims (SQLite claims in a write transaction)")
    a = await world.job("a")
    b = await world.job("b")
    async with db.one_statement() as c:
        assert [r.command for r in await _SET_COMMAND_ALONE.all(
            c, {"jid": a.id, "cmd": "alone"})] == ["alone"]
    assert await _command(world, a.id) == "alone"
    duplicate = Prepared(jobs.update().where(jobs.c.id == bindparam("jid"))
                         .values(name=bindparam("name")).returning(jobs.c.id), writes=True)
    broken = Prepared(select(literal_column("no_such_column")).select_from(jobs), writes=True)
    for p, params, want in [(duplicate, {"jid": b.id, "name": "a"}, Collision),
                            (broken, {}, Unavailable)]:
        with pytest.raises(want), monkeypatch.context() as patched:
            async with db.one_statement() as c:
                # the driver's error, not a second run through Core
                patched.setattr(type(c), "execute", _never)
                await p.all(c, params)
    assert [j.name for j in await world.store.list_jobs(world.env)] == ["a", "b"]
    await _write_command(world, a.id, "after")


async def _never(*_: Any, **__: Any) -> Any:
    raise AssertionError("a statement that writes ran a second time through SQLAlchemy")
