"""Contract: a use case's check and its write hold together when several server processes
race on PostgreSQL (SQLite serialises its writers). Each test runs the same write from
several stores (each its own engines, as separate processes have) at once, many times over,
and asserts what one-at-a-time calls would leave.

Found from the outside (parallel HTTP requests against a PostgreSQL server): a blocking job
triggered in parallel got several pending runs; two definitions sent together closed a chain
cycle that then ran forever; the organisation's last two environments deleted together left
it with none; a job deleted twice at once answered 200 twice and was audited twice; one
address added in several spellings at once was stored in each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from schedo.server.domain.audit import Action, Actor, AuditQuery
from schedo.server.domain.chains import After
from schedo.server.domain.errors import Conflict, InvalidInput, NotFound
from schedo.server.storage.sql import SqlStore
from tests.contract.kit import T0, Stores, World, at, build_world, spec

RACERS = 4
RACER = Actor(key_id=None, key_name="racer")
ROUNDS = 8


async def _racers(stores: Stores) -> tuple[World, list[SqlStore]]:
    world = await build_world(await stores.open())
    return world, [world.store] + [await stores.open() for _ in range(RACERS - 1)]


async def _race(calls: list[Awaitable[Any]]) -> list[Any]:
    """Every call at once; each one's value or the exception it raised."""
    return list(await asyncio.gather(*calls, return_exceptions=True))


def _unexpected(results: list[Any], *allowed: type[Exception]) -> list[Any]:
    return [r for r in results if isinstance(r, BaseException) and not isinstance(r, allowed)]


async def test_a_blocking_job_triggered_at_once_gets_one_run(stores: Stores) -> None:
    world, racers = await _racers(stores)
    for n in range(ROUNDS):
        job = await world.job(f"blocking-{n}", blocking=True)
        # each its own instant, as requests have (one instant would collide on the run key)
        results = await _race([s.trigger(world.env, job.id, at(n + i / 1000))
                               for i, s in enumerate(racers)])
        assert not _unexpected(results, Conflict), results
        made = [r for r in results if not isinstance(r, BaseException)]
        assert len(made) == 1, results
        pending = await world.store.claim(world.env, [job.name], [job.type.value], at(n + 1), 10)
        assert [e.id for e in pending] == [made[0].id]


async def test_two_definitions_sent_together_never_close_a_chain_cycle(stores: Stores) -> None:
    world, racers = await _racers(stores)
    for n in range(ROUNDS):
        a, b = f"a{n}", f"b{n}"
        await world.job(a)
        await world.job(b)
        after_b = After(jobs=(b,)).as_json()
        after_a = After(jobs=(a,)).as_json()
        results = await _race([
            racers[0].upsert_job(world.env, spec(a, after=after_b), at(n), None, False),
            racers[1].upsert_job(world.env, spec(b, after=after_a), at(n), None, False),
        ])
        assert not _unexpected(results, InvalidInput), results
        refused = [r for r in results if isinstance(r, InvalidInput)]
        assert len(refused) == 1 and "cycle" in str(refused[0]), results
        graph = await world.store.chain_graph(world.env)
        assert not (graph.get(a) == [b] and graph.get(b) == [a]), graph


async def test_the_last_environments_deleted_at_once_leave_one(stores: Stores) -> None:
    world, racers = await _racers(stores)
    for n in range(ROUNDS):
        org = await world.store.create_org(f"org-{n}", T0)
        envs = [(await world.store.create_environment(org.id, f"e{i}", "sig", T0)).id
                for i in range(RACERS)]
        results = await _race([s.delete_environment(org.id, e)
                               for s, e in zip(racers, envs, strict=True)])
        assert not _unexpected(results, Conflict), results
        assert sum(isinstance(r, Conflict) for r in results) == 1, results
        assert len(await world.store.list_environments(org.id)) == 1


async def test_a_job_deleted_twice_at_once_is_deleted_and_audited_once(stores: Stores) -> None:
    world, racers = await _racers(stores)
    for n in range(ROUNDS):
        job = await world.job(f"gone-{n}")
        results = await _race([s.delete_job(world.env, job.id, RACER, at(n))
                               for s in racers])
        assert not _unexpected(results, NotFound), results
        assert sum(not isinstance(r, BaseException) for r in results) == 1, results
        events = await world.store.list_audit(
            world.env, AuditQuery(job_id=job.id, action=Action.DELETED.value))
        assert len(events) == 1, events


async def test_one_address_added_in_several_spellings_at_once_is_kept_once(
    stores: Stores,
) -> None:
    world, racers = await _racers(stores)
    spellings = ["Ops@x.example", "ops@x.example", "OPS@x.example", "ops@X.example"]
    for n in range(ROUNDS):
        org = await world.store.create_org(f"mail-{n}", T0)
        results = await _race([s.add_email(org.id, a, T0)
                               for s, a in zip(racers, spellings, strict=True)])
        assert not _unexpected(results), results
        assert len(await world.store.list_emails(org.id)) == 1


async def test_triggers_racing_two_deletes_leave_one_delete_and_no_run(stores: Stores) -> None:
    """Two deletes of one job racing its triggers: one delete goes through, the other and
    the late triggers find no job (404), and no run is left. On PostgreSQL the deletes could
    deadlock on the runs the job's delete cascades to (new runs committed between their
    statements, locked in different orders): a 503 that blamed the database. The loser is
    now tried again and finds the job gone."""
    world, racers = await _racers(stores)
    more = [await stores.open() for _ in range(2)]
    for n in range(ROUNDS * 2):
        job = await world.job(f"racing-{n}")
        calls: list[Awaitable[Any]] = [s.trigger(world.env, job.id, at(n + i / 1000))
                                       for i, s in enumerate(racers[1:] + more)]
        calls += [racers[0].delete_job(world.env, job.id, RACER, at(n)),
                  more[0].delete_job(world.env, job.id, RACER, at(n))]
        results = await _race(calls)
        assert not _unexpected(results, NotFound), results
        assert sum(r is None for r in results[-2:]) == 1, results  # one delete went through
        left = await world.store.claim(world.env, [job.name], [job.type.value], at(n + 1), 10)
        assert left == []
