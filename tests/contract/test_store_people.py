"""Contract: people (contracts.PeopleStore), on SQLite and PostgreSQL: users unique per
organisation, roles per environment, the last organisation-wide admin kept, sessions that end
when revoked or expired, invitations used once, another organisation's rows never reached,
and every change recorded in the audit log with the user or key as actor."""

from __future__ import annotations

import pytest

from schedo.server.domain.audit import Actor, AuditQuery
from schedo.server.domain.errors import Conflict, NotFound
from tests.contract.kit import T0, World, at

KEY = Actor(key_id=1, key_name="admin", via="dashboard")
ALICE = Actor(key_id=None, key_name="alice@example.com", via="dashboard", user_id=1)


async def _user(world: World, email: str, grants: list[tuple[int | None, str]],
                org: int | None = None) -> int:
    user = await world.store.create_user(
        org_id=world.org if org is None else org, email=email, name=email.split("@")[0],
        password_hash="h", now=T0, memberships=grants)
    return user.id


async def test_users_are_unique_per_organisation_and_scoped_to_it(world: World) -> None:
    s = world.store
    a = await _user(world, "alice@example.com", [(None, "admin")])
    with pytest.raises(Conflict):
        await _user(world, "alice@example.com", [(world.env, "viewer")])
    other = await _user(world, "alice@example.com", [(world.other_env, "viewer")],
                        org=world.other_org)  # another organisation may have the address
    assert [u.id for u in await s.users_by_email("alice@example.com")] == [a, other]
    with pytest.raises(NotFound):  # a foreign environment is a missing one
        await _user(world, "bob@example.com", [(world.other_env, "viewer")])
    assert await s.users_by_email("bob@example.com") == []
    with pytest.raises(NotFound):
        await s.get_person(world.org, other)
    assert [p.user.email for p in await s.list_people(world.org)] == ["alice@example.com"]


async def test_roles_change_per_environment_and_are_audited(world: World) -> None:
    s = world.store
    await _user(world, "alice@example.com", [(None, "admin")])
    bob = await _user(world, "bob@example.com", [(world.env, "viewer")])
    p = await s.set_role(world.org, bob, world.env2, "operator", now=at(1), actor=ALICE,
                         record_in=world.env)
    assert {(m.environment_id, m.role) for m in p.memberships} == {
        (world.env, "viewer"), (world.env2, "operator")}
    p = await s.set_role(world.org, bob, world.env, "editor", now=at(2), actor=KEY,
                         record_in=world.env)
    p = await s.set_role(world.org, bob, world.env2, None, now=at(3), actor=ALICE,
                         record_in=world.env)
    assert [(m.environment_id, m.role) for m in p.memberships] == [(world.env, "editor")]
    await s.set_role(world.org, bob, world.env, "editor", now=at(4), actor=KEY,
                     record_in=world.env)  # no change: nothing recorded
    events = await s.list_audit(world.env, AuditQuery())
    assert [(e.action, e.object_kind, e.actor_name, e.actor_user_id, e.actor_key_id, e.changes)
            for e in events] == [
        ("changed", "user", "alice@example.com", 1, None, {f"role:{world.env2}": ["operator",
                                                                                 None]}),
        ("changed", "user", "admin", None, 1, {f"role:{world.env}": ["viewer", "editor"]}),
        ("changed", "user", "alice@example.com", 1, None, {f"role:{world.env2}": [None,
                                                                                 "operator"]}),
    ]
    with pytest.raises(NotFound):
        await s.set_role(world.other_org, bob, None, "admin", now=at(5))


async def test_the_last_organisation_wide_admin_is_kept(world: World) -> None:
    s = world.store
    alice = await _user(world, "alice@example.com", [(None, "admin")])
    with pytest.raises(Conflict):
        await s.set_role(world.org, alice, None, "editor", now=at(1))
    with pytest.raises(Conflict):
        await s.remove_user(world.org, alice, now=at(1))
    bob = await _user(world, "bob@example.com", [(None, "admin")])
    await s.set_role(world.org, alice, None, "viewer", now=at(2))
    with pytest.raises(Conflict):
        await s.remove_user(world.org, bob, now=at(3))
    await s.remove_user(world.org, alice, now=at(3), actor=KEY, record_in=world.env)
    assert [p.user.email for p in await s.list_people(world.org)] == ["bob@example.com"]
    [ev] = await s.list_audit(world.env, AuditQuery())
    assert (ev.action, ev.object_kind, ev.object_name) == ("deleted", "user",
                                                           "alice@example.com")


async def test_sessions_end_when_revoked_expired_or_their_user_is_removed(world: World) -> None:
    s = world.store
    alice = await _user(world, "alice@example.com", [(None, "admin")])
    bob = await _user(world, "bob@example.com", [(world.env, "viewer")])
    one = await s.create_session(user_id=bob, secret_digest="d1", now=T0,
                                 expires_at=at(3600), user_agent="firefox")
    two = await s.create_session(user_id=bob, secret_digest="d2", now=T0,
                                 expires_at=at(3600), user_agent="phone")
    got = await s.resume_session(one.id, at(30), 60_000)
    assert got is not None and got[1].user.email == "bob@example.com"
    assert got[0].last_seen_at == T0  # written at most once a minute
    got = await s.resume_session(one.id, at(90), 60_000)
    assert got is not None
    assert (await s.resume_session(one.id, at(91), 60_000))[0].last_seen_at == at(90)  # type: ignore[index]
    assert await s.resume_session(one.id, at(3600), 60_000) is None  # expired
    assert [x.id for x in await s.list_sessions(world.org, bob, at(10))] == [two.id, one.id]
    assert await s.list_sessions(world.other_org, None, at(10)) == []
    with pytest.raises(NotFound):  # another user's session, by a non-admin
        await s.revoke_session(world.org, two.id, alice, now=at(20))
    with pytest.raises(NotFound):  # another organisation's
        await s.revoke_session(world.other_org, two.id, None, now=at(20))
    ended = await s.revoke_session(world.org, two.id, None, now=at(20), actor=ALICE,
                                   record_in=world.env)
    assert ended.revoked_at == at(20)
    assert await s.resume_session(two.id, at(21), 60_000) is None
    with pytest.raises(NotFound):  # once
        await s.revoke_session(world.org, two.id, None, now=at(22))
    [ev] = await s.list_audit(world.env, AuditQuery())
    assert (ev.action, ev.object_kind, ev.object_id, ev.object_name, ev.actor_user_id) == (
        "revoked", "session", two.id, "bob@example.com", 1)
    await s.set_role(world.org, bob, world.env, None, now=at(23))
    await s.remove_user(world.org, bob, now=at(24))
    assert await s.resume_session(one.id, at(25), 60_000) is None


async def test_an_invitation_is_used_once_and_expires(world: World) -> None:
    s = world.store
    inv = await s.create_invitation(
        org_id=world.org, env_id=world.env2, email="carol@example.com", role="operator",
        token_digest="t1", invited_by="admin", now=T0, expires_at=at(600), actor=KEY,
        record_in=world.env)
    assert (await s.find_invitation("t1")) == inv
    with pytest.raises(NotFound):
        await s.create_invitation(
            org_id=world.org, env_id=world.other_env, email="x@example.com", role="viewer",
            token_digest="t2", invited_by="admin", now=T0, expires_at=at(600))
    user = await s.accept_invitation(token_digest="t1", name="Carol", password_hash="h",
                                     now=at(10))
    person = await s.get_person(world.org, user.id)
    assert [(m.environment_id, m.role) for m in person.memberships] == [(world.env2,
                                                                         "operator")]
    with pytest.raises(NotFound):  # the link works once
        await s.accept_invitation(token_digest="t1", name="Eve", password_hash="h",
                                  now=at(11))
    late = await s.create_invitation(
        org_id=world.org, env_id=None, email="dave@example.com", role="viewer",
        token_digest="t3", invited_by="admin", now=T0, expires_at=at(600))
    assert not late.open(at(600))
    with pytest.raises(NotFound):
        await s.accept_invitation(token_digest="t3", name="Dave", password_hash="h",
                                  now=at(600))
    with pytest.raises(Conflict):  # the address has an account already
        await s.create_invitation(
            org_id=world.org, env_id=None, email="carol@example.com", role="viewer",
            token_digest="t4", invited_by="admin", now=T0, expires_at=at(600))
    [ev] = await s.list_audit(world.env, AuditQuery())
    assert (ev.action, ev.object_kind, ev.object_name) == ("created", "invitation",
                                                           "carol@example.com")
    [joined] = await s.list_audit(world.env2, AuditQuery())
    assert (joined.action, joined.actor_user_id) == ("created", user.id)


async def test_ended_sessions_and_expired_invitations_are_pruned(world: World) -> None:
    s = world.store
    bob = await _user(world, "bob@example.com", [(world.env, "viewer")])
    live = await s.create_session(user_id=bob, secret_digest="a", now=T0, expires_at=at(600),
                                  user_agent="")
    await s.create_session(user_id=bob, secret_digest="b", now=T0, expires_at=at(60),
                           user_agent="")
    gone = await s.create_session(user_id=bob, secret_digest="c", now=T0,
                                  expires_at=at(600), user_agent="")
    await s.revoke_session(world.org, gone.id, None, now=at(10))
    for token, expires in (("t1", at(60)), ("t2", at(600))):
        await s.create_invitation(org_id=world.org, env_id=None, email=f"{token}@example.com",
                                  role="viewer", token_digest=token, invited_by="admin",
                                  now=T0, expires_at=expires)
    assert await s.prune_people(at(120)) == 3
    assert [x.id for x in await s.list_sessions(world.org, None, at(120))] == [live.id]
    assert await s.resume_session(live.id, at(121), 60_000) is not None
    assert await s.find_invitation("t1") is None and await s.find_invitation("t2") is not None
    assert await s.prune_people(at(120)) == 0
