"""Contract: target mode "all" (issue 21), on SQLite and PostgreSQL. Agents' heartbeats
carry their host and tags; a tick makes one run per connected host whose agent has every
target tag (stale and non-matching agents get none), exactly once per tick and host also
with two store instances ticking at once; a retry stays on its host; with no matching agent
the tick makes one run for the tags that expires naming them; a trigger fans out too."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from schedo.server.domain.errors import Conflict
from schedo.server.domain.model import JobType, RunStatus, Source
from schedo.server.domain.records import Job
from schedo.server.domain.targets import agent_match
from schedo.server.storage.sql import SqlStore
from tests.contract.kit import FAIL, OK, T0, Stores, World, at, build_world, plan, planner

CMD = [JobType.COMMAND.value]
ALL = {"tags": ["db", "eu"], "mode": "all"}


async def _agent(s: SqlStore, env: int, worker: str, host: str, tags: list[str],
                 seconds: float = 0) -> None:
    await s.heartbeat(env, worker, at(seconds), agent_match(host, tags))


async def _job(world: World, name: str = "backup", **kw: object) -> Job:
    return await world.job(name, type=JobType.COMMAND, command="true", target=ALL,
                           next_run_at=T0, **kw)


async def test_a_tick_runs_once_per_connected_matching_host(world: World) -> None:
    s = world.store
    job = await _job(world)
    await _agent(s, world.env, "agent-a-1", "a", ["db", "eu", "ssd"])
    await _agent(s, world.env, "agent-a-2", "a", ["eu", "db"])  # a second agent on host a
    await _agent(s, world.env, "agent-b-1", "b", ["db", "eu"], seconds=-5)
    await _agent(s, world.env, "agent-c-1", "c", ["db"])  # lacks eu
    await _agent(s, world.env, "agent-d-1", "d", ["db", "eu"], seconds=-31)  # stale
    await _agent(s, world.env2, "agent-e-1", "e", ["db", "eu"])  # another environment
    await s.heartbeat(world.env, "sdk-worker", at(0))  # a worker: no host
    res = await s.tick(at(1), 10, planner({job.id: plan(T0, next_run_at=at(300))}))
    got = sorted((e.target_host, e.target_tags, e.status, e.scheduled_for, e.attempt)
                 for e in res.created)
    assert got == [("a", "db,eu", RunStatus.PENDING, T0, 1),
                   ("b", "db,eu", RunStatus.PENDING, T0, 1)]
    after = await s.get_job(world.env, job.id)
    assert (after.next_run_at, after.last_run_at, after.status.value) == (at(300), T0, "pending")
    # each host's agent takes its own run, and only its own
    by_host = {e.target_host: e.id for e in res.created}
    a = await s.claim(world.env, None, CMD, at(2), 10, agent=agent_match("a", ["db", "eu"]))
    assert [e.id for e in a] == [by_host["a"]]
    c = await s.claim(world.env, None, CMD, at(2), 10, agent=agent_match("c", ["db", "eu"]))
    assert c == []  # host c announced the tags only now: the tick did not count it
    b = await s.claim(world.env, None, CMD, at(2), 10, agent=agent_match("b", ["db", "eu"]))
    assert [e.id for e in b] == [by_host["b"]]


async def test_an_agents_tags_follow_its_latest_heartbeat(world: World) -> None:
    s = world.store
    job = await _job(world)
    await _agent(s, world.env, "agent-a-1", "a", ["db", "eu"])
    await _agent(s, world.env, "agent-a-1", "a", ["db"], seconds=1)  # restarted without eu
    res = await s.tick(at(2), 10, planner({job.id: plan(T0, next_run_at=at(300))}))
    [run] = res.created
    assert (run.target_host, run.target_tags) == (None, "db,eu")


async def test_with_no_matching_agent_one_run_expires_naming_the_tags(world: World) -> None:
    s = world.store
    job = await _job(world, timeout_seconds=30)
    await _agent(s, world.env, "agent-c-1", "c", ["db"])
    res = await s.tick(at(1), 10, planner({job.id: plan(T0, next_run_at=at(300))}))
    [run] = res.created
    assert (run.target_host, run.target_tags, run.status) == (None, "db,eu", RunStatus.PENDING)
    [gone] = await s.expire_overdue(at(31))
    assert gone.id == run.id and gone.status is RunStatus.EXPIRED
    assert gone.error == ("expired: not picked up within 30s of becoming due "
                          "(no agent with tags db, eu connected?)")


async def test_exactly_once_per_tick_and_host_with_two_stores_ticking(stores: Stores) -> None:
    world = await build_world(await stores.open())
    other = await stores.open()
    jobs = [await _job(world, f"backup-{i}") for i in range(6)]
    plain = await world.job("plain", next_run_at=T0)  # an sdk job keeps one run per tick
    for host in ("a", "b", "c"):
        await _agent(world.store, world.env, f"agent-{host}", host, ["db", "eu"])
    everyone = [*jobs, plain]
    # the job rows stay due: every pass offers the same instant again (the unique key alone)
    plans = {j.id: plan(T0, next_run_at=T0) for j in everyone}
    results = await asyncio.gather(*(p.tick(at(1), 100, planner(plans))
                                     for p in (world.store, other) * 3))
    created = sorted((e.job_id, e.target_host or "") for r in results for e in r.created)
    want = sorted([(j.id, h) for j in jobs for h in "abc"] + [(plain.id, "")])
    assert created == want
    for j in everyone:
        rows = await world.store.list_executions(world.env, j.id, None, 50)
        assert len(rows) == (3 if j in jobs else 1)


async def test_a_retry_stays_on_its_host(world: World) -> None:
    s = world.store
    job = await _job(world, max_retries=1)
    for host in ("a", "b"):
        await _agent(s, world.env, f"agent-{host}", host, ["db", "eu"])
    res = await s.tick(at(1), 10, planner({job.id: plan(T0, next_run_at=at(300))}))
    assert len(res.created) == 2
    [b_run] = await s.claim(world.env, None, CMD, at(2), 10,
                            agent=agent_match("b", ["db", "eu"]))
    [a_run] = await s.claim(world.env, None, CMD, at(2), 10,
                            agent=agent_match("a", ["db", "eu"]))
    await s.complete(world.env, b_run.id, FAIL, at(3))
    await s.complete(world.env, a_run.id, FAIL, at(3))  # both retried: keys differ by host
    runs = await s.list_executions(world.env, job.id, None, 10)
    retries = sorted((e.target_host, e.attempt) for e in runs if e.attempt == 2)
    assert retries == [("a", 2), ("b", 2)]
    later = at(3) + timedelta(minutes=15)  # past any backoff
    assert await s.claim(world.env, None, CMD, later, 10,
                         agent=agent_match("c", ["db", "eu"])) == []
    [again] = await s.claim(world.env, None, CMD, later, 10,
                            agent=agent_match("b", ["db", "eu"]))
    assert (again.target_host, again.attempt, again.scheduled_for) == ("b", 2, T0)


async def test_overlap_is_counted_per_host(world: World) -> None:
    s = world.store
    job = await _job(world, blocking=True)
    for host in ("a", "b"):
        await _agent(s, world.env, f"agent-{host}", host, ["db", "eu"])
    await s.tick(at(1), 10, planner({job.id: plan(T0, next_run_at=at(60))}))
    [a_run] = await s.claim(world.env, None, CMD, at(2), 10,
                            agent=agent_match("a", ["db", "eu"]))
    [b_run] = await s.claim(world.env, None, CMD, at(2), 10,
                            agent=agent_match("b", ["db", "eu"]))
    await s.complete(world.env, b_run.id, OK, at(30))  # b is done, a still runs
    for host in ("a", "b"):
        await _agent(s, world.env, f"agent-{host}", host, ["db", "eu"], seconds=59)
    res = await s.tick(at(60), 10, planner({job.id: plan(at(60), next_run_at=at(120))}))
    got = {e.target_host: e.status for e in res.created}
    assert got == {"a": RunStatus.SKIPPED, "b": RunStatus.PENDING}
    assert a_run.status is RunStatus.RUNNING


async def test_a_trigger_makes_one_run_per_connected_matching_host(world: World) -> None:
    s = world.store
    job = await _job(world, blocking=True)
    for host in ("a", "b"):
        await _agent(s, world.env, f"agent-{host}", host, ["db", "eu"])
    first = await s.trigger(world.env, job.id, at(1))
    runs = await s.list_executions(world.env, job.id, None, 10)
    assert sorted(e.target_host or "" for e in runs) == ["a", "b"]
    assert first.id == min(e.id for e in runs)
    assert {(e.source, e.scheduled_for) for e in runs} == {(Source.MANUAL, at(1))}
    # blocking, both hosts busy: refused, nothing made
    with pytest.raises(Conflict):
        await s.trigger(world.env, job.id, at(2))
    [a_run] = await s.claim(world.env, None, CMD, at(2), 10,
                            agent=agent_match("a", ["db", "eu"]))
    await s.complete(world.env, a_run.id, OK, at(3))
    await s.trigger(world.env, job.id, at(4))  # only host a is free
    runs = await s.list_executions(world.env, job.id, None, 10)
    assert sorted(e.target_host or "" for e in runs if e.scheduled_for == at(4)) == ["a"]


async def test_cancel_other_ends_only_the_runs_of_the_hosts_that_run_again(
    world: World,
) -> None:
    s = world.store
    job = await _job(world, overlap="cancel_other")
    for host in ("a", "b"):
        await _agent(s, world.env, f"agent-{host}", host, ["db", "eu"])
    await s.tick(at(1), 10, planner({job.id: plan(T0, next_run_at=at(60))}))
    held = {h: (await s.claim(world.env, None, CMD, at(2), 10,
                              agent=agent_match(h, ["db", "eu"])))[0] for h in ("a", "b")}
    await _agent(s, world.env, "agent-a", "a", ["db", "eu"], seconds=59)  # b went quiet
    res = await s.tick(at(60), 10, planner({job.id: plan(at(60), next_run_at=at(120))}))
    assert [(e.target_host, e.status) for e in res.created] == [("a", RunStatus.PENDING)]
    assert [e.id for e in res.cancelled] == [held["a"].id]
    b_run = await s.get_execution(world.env, held["b"].id)
    assert b_run.status is RunStatus.RUNNING  # host b's run is not a's to cancel


async def test_a_buffered_run_waits_only_for_its_own_host(world: World) -> None:
    s = world.store
    job = await _job(world, overlap="buffer_one")
    for host in ("a", "b"):
        await _agent(s, world.env, f"agent-{host}", host, ["db", "eu"])
    await s.tick(at(1), 10, planner({job.id: plan(T0, next_run_at=at(60))}))
    held = {h: (await s.claim(world.env, None, CMD, at(2), 10,
                              agent=agent_match(h, ["db", "eu"])))[0] for h in ("a", "b")}
    for host in ("a", "b"):
        await _agent(s, world.env, f"agent-{host}", host, ["db", "eu"], seconds=59)
    res = await s.tick(at(60), 10, planner({job.id: plan(at(60), next_run_at=at(120))}))
    assert sorted(e.target_host or "" for e in res.created) == ["a", "b"]  # both buffered
    await s.complete(world.env, held["b"].id, OK, at(61))  # b's end releases b's run only
    b = agent_match("b", ["db", "eu"])
    [b_next] = await s.claim(world.env, None, CMD, at(62), 10, agent=b)
    assert (b_next.target_host, b_next.scheduled_for) == ("b", at(60))
    a = agent_match("a", ["db", "eu"])
    assert await s.claim(world.env, None, CMD, at(62), 10, agent=a) == []  # a still runs
