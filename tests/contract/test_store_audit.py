"""Contract: the audit log (contracts.AuditStore and the ``actor`` of the writing calls), on
SQLite and PostgreSQL: an event is written in the transaction of its change, only when
something changed, and is read back per environment, filtered and paged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schedo.server.domain.audit import Actor, AuditQuery
from schedo.server.domain.errors import Conflict, NotFound
from tests.contract.kit import T0, World, at, key_material, spec

WHO = Actor(key_id=7, key_name="deploy bot", via="api")
UI = Actor(key_id=8, key_name="ops", via="dashboard")


async def _events(world: World, env: int | None = None, **q: object) -> list[tuple[str, str]]:
    got = await world.store.list_audit(world.env if env is None else env, AuditQuery(**q))
    return [(e.action, e.object_name) for e in got]


async def test_definition_created_changed_and_an_identical_one_records_nothing(
    world: World,
) -> None:
    s = world.store
    job, created = await s.upsert_job(world.env, spec("nightly"), T0, at(300), True, actor=WHO)
    assert created
    [ev] = await s.list_audit(world.env, AuditQuery())
    assert (ev.action, ev.object_kind, ev.object_id, ev.object_name) == (
        "created", "job", job.id, "nightly")
    assert (ev.actor_key_id, ev.actor_name, ev.via, ev.at) == (7, "deploy bot", "api", T0)
    assert ev.changes["cron_expression"] == [None, "*/5 * * * *"]
    # a worker restarting defines the very same job: nothing to record
    await s.upsert_job(world.env, spec("nightly"), at(10), at(300), False, actor=WHO)
    assert len(await s.list_audit(world.env, AuditQuery())) == 1
    changed = spec("nightly", cron_expression="0 * * * *", metadata={"team": "data"})
    await s.upsert_job(world.env, changed, at(20), at(3600), True, actor=UI)
    ev = (await s.list_audit(world.env, AuditQuery()))[0]
    assert ev.action == "changed" and ev.via == "dashboard" and ev.at == at(20)
    assert ev.changes == {"cron_expression": ["*/5 * * * *", "0 * * * *"],
                          "metadata": [{"team": "ops"}, {"team": "data"}]}


async def test_flags_record_only_real_changes(world: World) -> None:
    s = world.store
    job = await world.job("a")
    await s.update_job_flags(world.env, job.id, at(1), paused=True, actor=WHO)
    await s.update_job_flags(world.env, job.id, at(2), paused=True, actor=WHO)  # no change
    await s.update_job_flags(world.env, job.id, at(3), paused=False, next_run_at=at(300),
                             actor=WHO)
    await s.update_job_flags(world.env, job.id, at(4), muted=True, actor=WHO)
    await s.update_job_flags(world.env, job.id, at(5), muted=False, actor=WHO)
    await s.update_job_flags(world.env, job.id, at(6), webhook_url="https://example.com/h",
                             set_webhook=True, actor=WHO)
    got = await s.list_audit(world.env, AuditQuery())
    assert [e.action for e in got] == ["changed", "unmuted", "muted", "resumed", "paused"]
    assert got[-1].changes == {"paused": [False, True]}
    assert got[0].changes == {"type": ["sdk", "push"],
                              "webhook_url": [None, "https://example.com/h"]}


async def test_trigger_and_delete_are_recorded_and_outlive_the_job(world: World) -> None:
    s = world.store
    job = await world.job("a")
    run = await s.trigger(world.env, job.id, at(1), actor=WHO)
    await s.delete_job(world.env, job.id, actor=WHO, now=at(2))
    got = await s.list_audit(world.env, AuditQuery(job_id=job.id))
    assert [(e.action, e.object_id) for e in got] == [("deleted", job.id),
                                                       ("triggered", job.id)]
    assert got[1].changes == {"run_id": [None, run.id]}
    # a deleted job's events are still found, also when a filter matches none of them
    assert await s.list_audit(world.env, AuditQuery(job_id=job.id, action="paused")) == []
    assert len(await s.list_audit(world.env, AuditQuery(job_id=job.id, cursor=1))) == 0
    with pytest.raises(NotFound):
        await s.list_audit(world.env2, AuditQuery(job_id=job.id))


async def test_a_refused_change_records_nothing(world: World) -> None:
    s = world.store
    job = await world.job("blocker", blocking=True)
    await s.trigger(world.env, job.id, at(1), actor=WHO)
    with pytest.raises(Conflict):
        await s.trigger(world.env, job.id, at(2), actor=WHO)
    with pytest.raises(NotFound):
        await s.delete_job(world.other_env, job.id, actor=WHO, now=at(3))
    with pytest.raises(NotFound):
        await s.update_job_flags(world.other_env, job.id, at(3), paused=True, actor=WHO)
    assert await _events(world) == [("triggered", "blocker")]
    assert await _events(world, world.other_env) == []


async def test_keys_and_environments(world: World) -> None:
    s = world.store
    prefix, digest = key_material()
    key = await s.create_key(org_id=world.org, env_id=world.env2, name="ci", prefix=prefix,
                             digest=digest, admin=False, internal=False, now=at(1), actor=WHO)
    await s.revoke_key(world.org, key.id, None, at(2), actor=WHO, record_in=world.env)
    await s.revoke_key(world.org, key.id, None, at(3), actor=WHO, record_in=world.env)  # again
    assert await _events(world, world.env2) == [("revoked", "ci"), ("created", "ci")]
    env3 = await s.create_environment(world.org, "qa", "sig-3", at(4), actor=WHO)
    assert await _events(world, env3.id) == [("created", "qa")]
    await s.delete_environment(world.org, env3.id, actor=WHO, now=at(5), record_in=world.env2)
    assert (await _events(world, world.env2))[0] == ("deleted", "qa")
    assert await s.list_audit(env3.id, AuditQuery()) == []  # its events went with it
    # deleting the environment one works in: the event goes to the first one left
    await s.delete_environment(world.org, world.env2, actor=WHO, now=at(6),
                               record_in=world.env2)
    assert (await _events(world, world.env))[0] == ("deleted", "staging")


async def test_filters_and_pages(world: World) -> None:
    s = world.store
    a = await world.job("a")
    b = await world.job("b")
    for i, job in enumerate([a, b, a, b]):
        await s.update_job_flags(world.env, job.id, at(10 * i), muted=i < 2,
                                 actor=WHO if i % 2 else UI)
    every = await s.list_audit(world.env, AuditQuery())
    assert [e.object_name for e in every] == ["b", "a", "b", "a"]
    assert await _events(world, job_id=a.id) == [("unmuted", "a"), ("muted", "a")]
    assert await _events(world, action="muted") == [("muted", "b"), ("muted", "a")]
    assert await _events(world, actor_key_id=8) == [("unmuted", "a"), ("muted", "a")]
    assert await _events(world, since=at(10), until=at(30)) == [("unmuted", "a"),
                                                                  ("muted", "b")]
    page = await s.list_audit(world.env, AuditQuery(limit=3))
    rest = await s.list_audit(world.env, AuditQuery(limit=3, cursor=page[-1].id))
    assert [e.id for e in page + rest] == [e.id for e in every]
    with pytest.raises(NotFound):  # a job of another environment is like a missing one
        await s.list_audit(world.env2, AuditQuery(job_id=a.id))
    assert await s.list_audit(world.env2, AuditQuery()) == []


async def test_prune_audit_deletes_old_events_and_ids_are_never_reused(world: World) -> None:
    s = world.store
    job = await world.job("a")
    for i in range(5):
        await s.update_job_flags(world.env, job.id, at(i), muted=i % 2 == 0, actor=WHO)
    newest = (await s.list_audit(world.env, AuditQuery()))[0].id
    batch = await s.prune_audit(at(3), 0, 2)
    assert (batch.deleted, batch.done) == (2, False)
    total = batch.deleted
    while not batch.done:
        batch = await s.prune_audit(at(3), batch.next_after_id, 2)
        total += batch.deleted
    assert total == 3
    assert [e.at for e in await s.list_audit(world.env, AuditQuery())] == [at(4), at(3)]
    await s.prune_audit(at(100), 0, 100)
    await s.update_job_flags(world.env, job.id, at(5), muted=False, actor=WHO)
    [again] = await s.list_audit(world.env, AuditQuery())
    assert again.id > newest


async def test_no_actor_records_nothing(world: World) -> None:
    job = await world.job("a")
    await world.store.update_job_flags(world.env, job.id, at(1), paused=True)
    await world.store.upsert_job(world.env, replace(spec("a"), max_retries=3), at(2),
                                 at(300), False)
    assert await _events(world) == []


async def test_admin_key_rotation_is_recorded_in_the_first_environment(world: World) -> None:
    s = world.store
    prefix, digest = key_material()
    rotator = Actor(key_id=None, key_name="schedo admin-key --rotate", via="cli")
    new, revoked = await s.rotate_admin_key(world.org, prefix, digest, at(1), actor=rotator)
    got = await s.list_audit(world.env, AuditQuery())
    assert [(e.action, e.object_id, e.actor_key_id, e.via) for e in got] == [
        ("created", new.id, None, "cli"), ("revoked", world.admin.id, None, "cli")]
    assert revoked == 1
