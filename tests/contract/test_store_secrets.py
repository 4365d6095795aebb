"""Contract: webhook signature key rotation (contracts.SecretStore), on SQLite and
PostgreSQL: the previous key stays valid until its end and no longer, at most two keys sign,
another organisation's environment is NotFound and changes nothing, and the keys are sealed
at rest (each under its own context) and never in the audit log."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from schedo.server.domain.audit import Actor, AuditQuery
from schedo.server.domain.errors import Conflict, NotFound
from schedo.server.storage.schema import api_keys, environments
from schedo.server.storage.sealing import is_sealed
from schedo.server.storage.sql import SqlStore
from tests.contract.kit import T0, World, at

WHO = Actor(key_id=7, key_name="ops", via="dashboard")


async def test_rotation_keeps_the_previous_key_until_its_end(world: World) -> None:
    s = world.store
    before = await s.signing_state(world.org, world.env, T0)
    assert (before.key, before.previous_valid_until) == ("sig-one", None)
    assert await s.previous_signature_keys([world.env, world.env2], T0) == {}
    got = await s.rotate_signature_key(world.org, world.env, "sig-new", T0, at(3600), actor=WHO)
    assert (got.key, got.previous_valid_until, got.environment_name) == (
        "sig-new", at(3600), "production")
    assert (await s.get_environment(world.org, world.env)).webhook_signature_key == "sig-new"
    state = await s.signing_state(world.org, world.env, at(10))
    assert (state.key, state.previous_valid_until) == ("sig-new", at(3600))
    # the previous key signs until its end, strictly, in its environment only
    assert await s.previous_signature_keys([world.env, world.env2], at(3599)) == {
        world.env: "sig-one"}
    assert await s.previous_signature_keys([world.env], at(3600)) == {}
    assert (await s.signing_state(world.org, world.env, at(3600))).previous_valid_until is None
    assert (await s.get_environment(world.org, world.env2)).webhook_signature_key == "sig-two"
    [ev] = await s.list_audit(world.env, AuditQuery())
    assert (ev.action, ev.object_kind, ev.object_id, ev.object_name, ev.actor_name) == (
        "rotated", "environment", world.env, "production", "ops")
    assert ev.changes == {"webhook_signature_key": ["changed", "changed"],
                          "previous_valid_until": [None, "2026-11-28T13:00:00Z"]}
    assert "sig-one" not in str(ev.changes) and "sig-new" not in str(ev.changes)


async def test_a_second_rotation_drops_the_oldest_key(world: World) -> None:
    s = world.store
    await s.rotate_signature_key(world.org, world.env, "sig-b", T0, at(3600))
    await s.rotate_signature_key(world.org, world.env, "sig-c", at(60), at(7200))
    assert await s.previous_signature_keys([world.env], at(120)) == {world.env: "sig-b"}
    assert (await s.signing_state(world.org, world.env, at(120))).key == "sig-c"


async def test_no_overlap_ends_the_old_key_at_once(world: World) -> None:
    s = world.store
    await s.rotate_signature_key(world.org, world.env, "sig-b", T0, at(3600))
    got = await s.rotate_signature_key(world.org, world.env, "sig-c", at(1), at(1))
    assert got.previous_valid_until is None
    assert await s.previous_signature_keys([world.env], at(1)) == {}
    async with s.db.read() as c:
        r = (await c.execute(select(environments.c.previous_signature_key,
                                    environments.c.previous_signature_expires_at)
                             .where(environments.c.id == world.env))).one()
    assert tuple(r) == (None, None)  # nothing of the old key is kept


async def test_another_organisations_environment_is_not_found_and_unchanged(
    world: World,
) -> None:
    s = world.store
    with pytest.raises(NotFound):
        await s.rotate_signature_key(world.org, world.other_env, "x", T0, at(60), actor=WHO)
    with pytest.raises(NotFound):
        await s.rotate_signature_key(world.org, 999_999, "x", T0, at(60), actor=WHO)
    with pytest.raises(NotFound):
        await s.signing_state(world.org, world.other_env, T0)
    other = await s.signing_state(world.other_org, world.other_env, T0)
    assert (other.key, other.previous_valid_until) == ("sig-other", None)
    assert await s.list_audit(world.other_env, AuditQuery()) == []
    assert await s.list_audit(world.env, AuditQuery()) == []


async def test_keys_are_sealed_each_under_its_own_context(world: World) -> None:
    s = world.store
    await s.rotate_signature_key(world.org, world.env, "sig-new", T0, at(3600))
    async with s.db.read() as c:
        r = (await c.execute(select(environments.c.webhook_signature_key,
                                    environments.c.previous_signature_key)
                             .where(environments.c.id == world.env))).one()
    assert is_sealed(r[0]) and is_sealed(r[1])
    # swapped columns do not open: the previous key is not taken as the current one
    async with s.db.write() as c:
        await c.execute(environments.update().where(environments.c.id == world.env)
                        .values(webhook_signature_key=r[1], previous_signature_key=r[0]))
    assert (await s.signing_state(world.org, world.env, T0)).key == ""
    assert await s.previous_signature_keys([world.env], T0) == {}


async def test_concurrent_rotations_both_take_effect(world: World) -> None:
    s = world.store
    await asyncio.gather(
        s.rotate_signature_key(world.org, world.env, "sig-b", T0, at(3600)),
        s.rotate_signature_key(world.org, world.env, "sig-c", T0, at(3600)),
    )
    current = (await s.signing_state(world.org, world.env, T0)).key
    previous = (await s.previous_signature_keys([world.env], T0))[world.env]
    assert {current, previous} == {"sig-b", "sig-c"}  # one after the other, sig-one dropped


async def test_replace_admin_key_revokes_every_admin_key_and_refuses_a_stale_one(
    world: World,
) -> None:
    s = world.store
    second = await world.key(admin=True, name="second admin")
    env_key = await world.key(world.env)
    record, revoked = await s.replace_admin_key(world.org, world.admin.id, "sk_newprefix0001",
                                                "digest-new", at(5), actor=WHO,
                                                record_in=world.env)
    assert revoked == 2 and record.admin and not record.revoked
    for key_id in (world.admin.id, second.id):
        found = await s.find_key(await _prefix(s, key_id))
        assert found is not None and found.revoked
    assert not (await s.find_key(env_key.prefix)).revoked  # environment keys stay
    got = await s.list_audit(world.env, AuditQuery())
    assert sorted((e.action, e.object_id) for e in got) == sorted(
        [("revoked", world.admin.id), ("revoked", second.id), ("created", record.id)])
    # a second rotation by the key just revoked (another tab): refused, nothing changes
    with pytest.raises(Conflict):
        await s.replace_admin_key(world.org, world.admin.id, "sk_newprefix0002", "d2", at(6))
    assert not (await s.find_key("sk_newprefix0001")).revoked
    assert await s.find_key("sk_newprefix0002") is None
    # another organisation's admin key cannot act here
    other_admin = await world.key(org=world.other_org, admin=True)
    with pytest.raises(Conflict):
        await s.replace_admin_key(world.org, other_admin.id, "sk_newprefix0003", "d3", at(7))
    assert not (await s.find_key(other_admin.prefix)).revoked


async def _prefix(s: SqlStore, key_id: int) -> str:
    async with s.db.read() as c:
        return str((await c.execute(select(api_keys.c.prefix)
                                    .where(api_keys.c.id == key_id))).scalar_one())


async def test_a_rotation_expecting_a_key_that_changed_meanwhile_is_refused(
    world: World,
) -> None:
    """A rotation sent again (a reload, a double submit, a stale tab) names the key it saw by
    its fingerprint: when that key is no longer current it is a Conflict and nothing changes,
    so the key receivers still hold is not dropped by a second rotation."""
    s = world.store
    seen = (await s.signing_state(world.org, world.env, T0)).fingerprint
    assert seen and "sig-one" not in seen
    got = await s.rotate_signature_key(world.org, world.env, "sig-b", T0, at(3600),
                                       expected=seen, actor=WHO)
    assert got.key == "sig-b" and got.fingerprint != seen
    with pytest.raises(Conflict):
        await s.rotate_signature_key(world.org, world.env, "sig-c", at(1), at(3600),
                                     expected=seen, actor=WHO)
    state = await s.signing_state(world.org, world.env, at(2))
    assert (state.key, state.previous_valid_until) == ("sig-b", at(3600))
    assert await s.previous_signature_keys([world.env], at(2)) == {world.env: "sig-one"}
    assert len(await s.list_audit(world.env, AuditQuery())) == 1  # the refused one: nothing


async def test_a_rotation_within_an_overlap_records_the_overlap_it_ended(world: World) -> None:
    """The "rotated" event's previous_valid_until is [before, after]: a second rotation
    within an overlap ends the running one, which the event said was none ([None, ...])."""
    s = world.store
    await s.rotate_signature_key(world.org, world.env, "sig-b", T0, at(3600), actor=WHO)
    await s.rotate_signature_key(world.org, world.env, "sig-c", at(60), at(7200), actor=WHO)
    await s.rotate_signature_key(world.org, world.env, "sig-d", at(7300), at(9000), actor=WHO)
    events = await s.list_audit(world.env, AuditQuery())
    assert [e.changes["previous_valid_until"] for e in events] == [
        [None, "2026-11-28T14:30:00Z"],  # the overlap ending at(7200) was over at(7300)
        ["2026-11-28T13:00:00Z", "2026-11-28T14:00:00Z"],
        [None, "2026-11-28T13:00:00Z"]]
