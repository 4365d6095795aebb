"""Contract (issue 22's leftovers), on SQLite and PostgreSQL: the pause the server makes
itself after repeated failures is in the audit log with actor "system", once; organisation
email additions and removals are recorded in the acting environment, only when the list
really changed."""

from __future__ import annotations

from schedo.server.domain.audit import Actor, AuditQuery
from tests.contract.kit import FAIL, World, at
from tests.contract.test_store_notifications import ended

WHO = Actor(key_id=3, key_name="ops", via="dashboard")


async def test_a_pause_after_failures_is_recorded_as_the_systems(world: World) -> None:
    s = world.store
    runs = [await ended(world, "fragile", FAIL, now=at(60 * i), pause_after_failures=2)
            for i in range(3)]  # the third failure finds the job paused already: no event
    job = await s.get_job_by_name(world.env, "fragile")
    assert job is not None and job.paused
    [ev] = [e for e in await s.list_audit(world.env, AuditQuery()) if e.action == "paused"]
    assert (ev.actor_key_id, ev.actor_name, ev.via) == (None, "system", "system")
    assert (ev.object_kind, ev.object_id, ev.object_name, ev.at) == (
        "job", job.id, "fragile", at(61))  # when the second run ended
    assert ev.changes["paused"] == [False, True]
    assert ev.changes["paused_reason"][1].startswith("paused after 2 consecutive failed runs")
    assert f"execution {runs[1].id}," in ev.changes["paused_reason"][1]
    assert await s.list_audit(world.env2, AuditQuery()) == []


async def test_email_changes_are_recorded_once_each(world: World) -> None:
    s = world.store
    await s.add_email(world.org, "ops@example.com", at(1), actor=WHO, record_in=world.env)
    await s.add_email(world.org, "ops@example.com", at(2), actor=WHO, record_in=world.env)
    await s.remove_email(world.org, "nobody@example.com", at(3), actor=WHO,
                         record_in=world.env)
    await s.remove_email(world.org, "ops@example.com", at(4), actor=WHO, record_in=world.env)
    await s.remove_email(world.org, "ops@example.com", at(5), actor=WHO, record_in=world.env)
    got = await s.list_audit(world.env, AuditQuery())
    assert [(e.action, e.object_kind, e.object_name, e.at, e.actor_name) for e in got] == [
        ("deleted", "email", "ops@example.com", at(4), "ops"),
        ("created", "email", "ops@example.com", at(1), "ops")]
    # without an actor (internal calls) nothing is recorded; other environments see nothing
    await s.add_email(world.org, "quiet@example.com", at(6))
    assert len(await s.list_audit(world.env, AuditQuery())) == 2
    assert await s.list_audit(world.env2, AuditQuery()) == []
    assert await s.list_audit(world.other_env, AuditQuery()) == []


async def test_an_address_is_one_whatever_its_case(world: World) -> None:
    """``Ops@Example.com`` and ``ops@example.com`` reach one mailbox: adding the second
    spelling changes nothing (the first stays, no audit event), and removing in any case
    removes it."""
    s = world.store
    assert await s.add_email(world.org, "Ops@Example.com", at(1), actor=WHO,
                             record_in=world.env) == ["Ops@Example.com"]
    assert await s.add_email(world.org, "ops@example.COM", at(2), actor=WHO,
                             record_in=world.env) == ["Ops@Example.com"]
    assert await s.add_email(world.org, "dev@example.com", at(3)) == [
        "Ops@Example.com", "dev@example.com"]
    assert await s.remove_email(world.org, "OPS@EXAMPLE.COM", at(4), actor=WHO,
                                record_in=world.env) == ["dev@example.com"]
    got = await s.list_audit(world.env, AuditQuery())
    assert [(e.action, e.object_name, e.at) for e in got] == [
        ("deleted", "Ops@Example.com", at(4)), ("created", "Ops@Example.com", at(1))]
