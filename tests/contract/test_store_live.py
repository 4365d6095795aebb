"""Contract: LiveStore (storage/contracts/live.py) and the claim's worker, on SQLite and
PostgreSQL. An execution of another environment answers like a missing one."""

from __future__ import annotations

import pytest

from schedo.server.domain.errors import Conflict, NotFound
from schedo.server.domain.model import JobStatus, JobType, RunStatus
from schedo.server.storage.contracts import LogCaps
from schedo.server.storage.schema import execution_logs
from tests.contract.kit import OK, World, at

SDK = [JobType.SDK.value]
CAPS = LogCaps(lines=100, bytes=10_000)


async def test_the_claim_records_its_worker_and_a_release_clears_it(world: World) -> None:
    s = world.store
    job = await world.job("a")
    [run] = await world.runs(job)
    [got] = await s.claim(world.env, ["a"], SDK, at(1), 1, None, "host-1-77-abcd")
    assert got.worker == "host-1-77-abcd"
    assert (await s.get_execution(world.env, run.id)).worker == "host-1-77-abcd"
    [back] = await s.release(world.env, [run.id], at(2))
    assert back.worker is None and (await s.get_execution(world.env, run.id)).worker is None


async def test_cancel_ends_a_live_run_once_and_no_other(world: World) -> None:
    s = world.store
    job = await world.job("a", max_retries=3)
    running = await world.claimed(job)
    done = await s.cancel(world.env, running.id, at(3), "enough")
    assert done.status is RunStatus.CANCELLED and done.end_time == at(3)
    assert done.error == "cancelled on request: enough" and done.duration is not None
    stored = await s.get_execution(world.env, running.id)
    assert stored.status is RunStatus.CANCELLED and stored.error == done.error
    assert [e.id for e in await s.list_executions(world.env, job.id, None, 10)] == [running.id]
    assert (await s.get_job(world.env, job.id)).status is JobStatus.FAILED
    assert await s.list_notifications(world.org, 10) == []
    with pytest.raises(Conflict, match="already ended as cancelled"):
        await s.cancel(world.env, running.id, at(4))
    with pytest.raises(Conflict):
        await s.complete(world.env, running.id, OK, at(4))
    [pending] = await world.runs(await world.job("b"))
    assert (await s.cancel(world.env, pending.id, at(5))).status is RunStatus.CANCELLED
    with pytest.raises(NotFound):
        await s.cancel(world.other_env, running.id, at(5))
    with pytest.raises(NotFound):
        await s.cancel(world.env, 987654, at(5))


async def test_cancelled_among_names_only_cancelled_runs_of_the_environment(world: World) -> None:
    s = world.store
    job = await world.job("a")
    a, b = await world.runs(job, 2)
    await s.cancel(world.env, b.id, at(1))
    assert await s.cancelled_among(world.env, [a.id, b.id, 999999]) == [b.id]
    assert await s.cancelled_among(world.other_env, [a.id, b.id]) == []
    assert await s.cancelled_among(world.env, []) == []


async def test_append_log_keeps_lines_in_order_within_the_caps(world: World) -> None:
    s = world.store
    run = await world.claimed(await world.job("a"))
    got = await s.append_log(world.env, run.id, [(at(1), "log", "one"), (at(2), "output", "two")],
                             CAPS)
    assert (got.kept, got.dropped, got.live) == (2, 0, True)
    _, lines = await s.read_log(world.env, run.id, 0, 10)
    assert [(x.stream, x.line, x.at) for x in lines] == [("log", "one", at(1)),
                                                         ("output", "two", at(2))]
    _, after = await s.read_log(world.env, run.id, lines[0].id, 10)
    assert [x.line for x in after] == ["two"]
    small = LogCaps(lines=4, bytes=10_000)
    got = await s.append_log(world.env, run.id, [(at(3), "log", f"x{i}") for i in range(5)],
                             small)
    assert (got.kept, got.dropped) == (1, 4)
    _, lines = await s.read_log(world.env, run.id, 0, 10)
    assert [x.stream for x in lines] == ["log", "output", "log", "cut"]
    got = await s.append_log(world.env, run.id, [(at(4), "log", "late")], CAPS)
    assert (got.kept, got.dropped) == (0, 1)  # cut once: nothing more, whatever the caps
    chars = LogCaps(lines=100, bytes=5)
    other = await world.claimed(await world.job("b"))
    got = await s.append_log(world.env, other.id, [(at(1), "log", "abc"), (at(1), "log", "def")],
                             chars)
    assert (got.kept, got.dropped) == (1, 1)
    await s.complete(world.env, other.id, OK, at(2))
    got = await s.append_log(world.env, other.id, [(at(3), "log", "x")], CAPS)
    assert got.live is False and got.kept == 0  # already cut
    with pytest.raises(NotFound):
        await s.append_log(world.other_env, run.id, [(at(1), "log", "x")], CAPS)
    with pytest.raises(NotFound):
        await s.read_log(world.other_env, run.id, 0, 10)


async def test_log_lines_go_with_their_run(world: World) -> None:
    s = world.store
    job = await world.job("a")
    run = await world.claimed(job)
    await s.append_log(world.env, run.id, [(at(1), "log", "bye")], CAPS)
    await s.delete_job(world.env, job.id)
    async with s.db.read() as c:
        left = (await c.execute(execution_logs.select())).all()
    assert left == []


async def test_retention_deletes_log_lines_with_their_runs(world: World) -> None:
    s = world.store
    job = await world.job("a")
    run = await world.claimed(job)
    await s.append_log(world.env, run.id, [(at(1), "log", "old")], CAPS)
    await s.complete(world.env, run.id, OK, at(2))
    await world.runs(job, 1, at(3))  # a later run: the old one may go
    after = 0
    while True:
        batch = await s.prune_executions(at(10_000), after, 100)
        after = batch.next_after_id
        if batch.done:
            break
    with pytest.raises(NotFound):
        await s.get_execution(world.env, run.id)
    async with s.db.read() as c:
        assert (await c.execute(execution_logs.select())).all() == []


async def test_command_runs_go_only_to_agents_their_target_allows(world: World) -> None:
    from schedo.server.domain.model import JobType as JT
    from schedo.server.domain.targets import agent_match

    s = world.store
    cmd = [JT.COMMAND.value]
    on_db1 = await world.job("on-db1", type=JT.COMMAND, command="true",
                             target={"host": "db1"})
    tagged = await world.job("tagged", type=JT.COMMAND, command="true",
                             target={"tags": ["db", "eu"], "mode": "any"})
    free = await world.job("free", type=JT.COMMAND, command="true")
    [r1] = await world.runs(on_db1)
    [r2] = await world.runs(tagged)
    [r3] = await world.runs(free)
    assert (r1.target_host, r2.target_tags, r3.target_host) == ("db1", "db,eu", None)
    plain = await s.claim(world.env, None, cmd, at(1), 10)  # announced nothing
    assert [e.id for e in plain] == [r3.id]
    web = agent_match("web1", ["eu"])
    assert await s.claim(world.env, None, cmd, at(1), 10, agent=web) == []
    assert await s.earliest_pending_due(world.env, None, cmd, web) is None
    db = agent_match("db1", ["db", "eu", "ssd"])
    assert await s.earliest_pending_due(world.env, None, cmd, db) is not None
    got = await s.claim(world.env, None, cmd, at(1), 10, agent=db)
    assert sorted(e.id for e in got) == sorted([r1.id, r2.id])
    for e in [*got, *plain]:
        await s.complete(world.env, e.id, OK, at(2))
    [late] = await world.runs(on_db1, 1, at(100))
    [gone] = await s.expire_overdue(at(1000))
    assert gone.id == late.id
    assert gone.error == ("expired: not picked up within 30s of becoming due "
                          "(no agent on host db1 connected?)")
