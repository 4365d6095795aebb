"""Contract: OrgStore, EnvironmentStore and KeyStore (storage/contracts.py), on SQLite and
PostgreSQL. A foreign id (another organisation's or environment's) answers like a missing one."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from schedo.server.domain.errors import Conflict, NotFound
from schedo.server.storage.db import SERVING_LOCK_ID
from schedo.server.storage.sql import SqlStore
from tests.contract.kit import PEPPER, T0, Stores, World, at, build_world, key_material

# -- OrgStore -----------------------------------------------------------------------------------


async def test_bootstrap_creates_org_env_admin_key_and_pepper_on_an_empty_database(
    store: SqlStore,
) -> None:
    prefix, digest = key_material()
    assert await store.get_meta("api_key_pepper") is None
    created = await store.bootstrap(org_name="Acme", env_name="production",
                                    signature_key="sig-1", admin_prefix=prefix,
                                    admin_digest=digest, pepper="pep", now=T0)
    assert created is True
    assert (await store.get_org(1)).name == "Acme"
    env = await store.get_environment(1, 1)
    assert (env.name, env.webhook_signature_key) == ("production", "sig-1")
    key = await store.find_key(prefix)
    assert key is not None
    assert (key.organization_id, key.environment_id, key.admin, key.revoked, key.digest) == (
        1, None, True, False, digest)
    assert await store.get_meta("api_key_pepper") == "pep"


async def test_bootstrap_on_a_bootstrapped_database_changes_nothing(world: World) -> None:
    prefix, digest = key_material()
    again = await world.store.bootstrap(org_name="Again", env_name="again", signature_key="s",
                                        admin_prefix=prefix, admin_digest=digest,
                                        pepper="another", now=at(60))
    assert again is False
    assert (await world.store.get_org(1)).name == "Default organization"
    assert await world.store.find_key(prefix) is None
    assert await world.store.get_meta("api_key_pepper") == PEPPER
    assert [e.name for e in await world.store.list_environments(1)] == ["production", "staging"]


async def test_bootstrap_from_several_processes_at_once_creates_one_organisation(
    stores: Stores,
) -> None:
    procs = [await stores.open() for _ in range(3)]
    materials = [key_material() for _ in procs]
    results = await asyncio.gather(*(
        s.bootstrap(org_name=f"org-{i}", env_name="production", signature_key="s",
                    admin_prefix=p, admin_digest=d, pepper=f"pepper-{i}", now=T0)
        for i, (s, (p, d)) in enumerate(zip(procs, materials, strict=True))
    ))
    assert sorted(results) == [False, False, True]
    winner = results.index(True)
    store = procs[0]
    assert (await store.get_org(1)).name == f"org-{winner}"
    assert await store.get_meta("api_key_pepper") == f"pepper-{winner}"
    found = [await store.find_key(p) for p, _ in materials]
    assert [k is not None for k in found] == [i == winner for i in range(3)]
    assert len(await store.list_environments(1)) == 1


async def test_create_org_makes_a_new_organisation_and_get_org_of_a_missing_one_is_not_found(
    world: World,
) -> None:
    org = await world.store.create_org("Third", at(5))
    assert org.id not in (world.org, world.other_org)
    assert (org.name, org.created_at) == ("Third", at(5))
    assert await world.store.get_org(org.id) == org
    with pytest.raises(NotFound):
        await world.store.get_org(org.id + 1000)


async def test_emails_keep_the_order_they_were_added_and_repeats_are_no_ops(
    world: World,
) -> None:
    s = world.store
    assert await s.list_emails(world.org) == []
    await s.add_email(world.org, "b@example.com", T0)
    assert await s.add_email(world.org, "a@example.com", T0) == ["b@example.com",
                                                                 "a@example.com"]
    assert await s.add_email(world.org, "b@example.com", at(1)) == ["b@example.com",
                                                                    "a@example.com"]
    assert await s.list_emails(world.org) == ["b@example.com", "a@example.com"]
    assert await s.remove_email(world.org, "zzz@example.com") == ["b@example.com",
                                                                  "a@example.com"]
    assert await s.remove_email(world.org, "b@example.com") == ["a@example.com"]


async def test_emails_of_another_organisation_are_never_read_or_touched(world: World) -> None:
    s = world.store
    await s.add_email(world.org, "ours@example.com", T0)
    assert await s.add_email(world.other_org, "theirs@example.com", T0) == ["theirs@example.com"]
    assert await s.remove_email(world.other_org, "ours@example.com") == ["theirs@example.com"]
    assert await s.list_emails(world.org) == ["ours@example.com"]


# -- EnvironmentStore ---------------------------------------------------------------------------


async def test_create_environment_adds_one_to_its_organisations_list_oldest_first(
    world: World,
) -> None:
    env = await world.store.create_environment(world.org, "qa", "sig-qa", at(3))
    assert (env.organization_id, env.name, env.created_at) == (world.org, "qa", at(3))
    assert env.webhook_signature_key == "sig-qa"
    assert await world.store.get_environment(world.org, env.id) == env
    listed = await world.store.list_environments(world.org)
    assert [e.id for e in listed] == [world.env, world.env2, env.id]
    assert [e.id for e in await world.store.list_environments(world.other_org)] == [
        world.other_env]


async def test_get_environment_of_another_organisation_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await world.store.get_environment(world.org, world.other_env)
    with pytest.raises(NotFound):
        await world.store.get_environment(world.org, 999)


async def test_delete_environment_takes_its_jobs_executions_and_keys(world: World) -> None:
    s = world.store
    gone_job = await world.job("a", env=world.env2)
    [gone_run] = await world.runs(gone_job)
    gone_key = await world.key(world.env2)
    kept_job = await world.job("a", env=world.env)
    [kept_run] = await world.runs(kept_job)
    kept_key = await world.key(world.env)

    deleted = await s.delete_environment(world.org, world.env2)

    assert deleted.id == world.env2
    with pytest.raises(NotFound):
        await s.get_environment(world.org, world.env2)
    with pytest.raises(NotFound):
        await s.get_job(world.env2, gone_job.id)
    with pytest.raises(NotFound):
        await s.get_execution(world.env2, gone_run.id)
    assert await s.find_key(gone_key.prefix) is None
    assert (await s.get_execution(world.env, kept_run.id)).id == kept_run.id
    assert (await s.get_job(world.env, kept_job.id)).id == kept_job.id
    assert await s.find_key(kept_key.prefix) == kept_key


async def test_delete_environment_of_another_organisation_is_not_found(world: World) -> None:
    await world.store.create_environment(world.other_org, "second", "s", T0)
    with pytest.raises(NotFound):
        await world.store.delete_environment(world.org, world.other_env)
    assert (await world.store.get_environment(world.other_org, world.other_env)).id == (
        world.other_env)


async def test_delete_last_environment_of_the_organisation_is_a_conflict(world: World) -> None:
    with pytest.raises(Conflict):
        await world.store.delete_environment(world.other_org, world.other_env)
    assert await world.store.get_environment(world.other_org, world.other_env)


# -- KeyStore -----------------------------------------------------------------------------------


async def test_create_key_stores_the_digest_and_find_key_finds_it_revoked_or_not(
    world: World,
) -> None:
    prefix, digest = key_material()
    key = await world.store.create_key(org_id=world.org, env_id=world.env, name="ci",
                                       prefix=prefix, digest=digest, admin=False,
                                       internal=False, now=at(2))
    assert (key.organization_id, key.environment_id, key.name, key.prefix, key.digest) == (
        world.org, world.env, "ci", prefix, digest)
    assert (key.admin, key.internal, key.revoked, key.created_at) == (False, False, False, at(2))
    assert await world.store.find_key(prefix) == key
    await world.store.revoke_key(world.org, key.id, None, T0)
    found = await world.store.find_key(key.prefix)
    assert found is not None and found.revoked
    assert await world.store.find_key("sk_unknownprefix") is None


async def test_resolve_key_gives_the_wanted_environment_only_of_the_keys_organisation(
    world: World,
) -> None:
    assert await world.store.resolve_key(world.admin.prefix, world.env2) == (world.admin,
                                                                             world.env2)
    assert await world.store.resolve_key(world.admin.prefix, world.other_env) == (world.admin,
                                                                                  None)
    assert await world.store.resolve_key(world.admin.prefix, 999) == (world.admin, None)


async def test_resolve_key_without_a_wanted_environment_gives_the_first_one(
    world: World,
) -> None:
    other_admin = await world.key(org=world.other_org, admin=True)
    assert await world.store.resolve_key(world.admin.prefix, None) == (world.admin, world.env)
    assert await world.store.resolve_key(other_admin.prefix, None) == (other_admin,
                                                                       world.other_env)


async def test_resolve_key_returns_revoked_keys_and_none_for_an_unknown_prefix(
    world: World,
) -> None:
    key = await world.key(world.env2)
    revoked = await world.store.revoke_key(world.org, key.id, None, T0)
    assert await world.store.resolve_key(key.prefix, world.env2) == (revoked, world.env2)
    assert await world.store.resolve_key("sk_unknownprefix", None) is None


async def test_access_alive_needs_an_unrevoked_key_and_an_existing_environment(
    world: World,
) -> None:
    s = world.store
    key = await world.key(world.env)
    assert await s.access_alive(key.id, world.env) is True
    assert await s.access_alive(key.id, 999) is False
    await s.revoke_key(world.org, key.id, None, T0)
    assert await s.access_alive(key.id, world.env) is False
    key2 = await world.key(world.env2)
    await s.delete_environment(world.org, world.env2)
    assert await s.access_alive(key2.id, world.env2) is False


async def test_list_keys_lists_the_environment_keys_of_one_environment(world: World) -> None:
    a = await world.key(world.env, name="a")
    b = await world.key(world.env, name="b")
    await world.key(world.env2, name="elsewhere")
    await world.key(org=world.other_org, env=world.other_env, name="foreign")
    assert await world.store.list_keys(world.org, world.env) == [a, b]
    assert await world.store.list_keys(world.org, world.other_env) == []


async def test_revoke_key_is_idempotent(world: World) -> None:
    key = await world.key()
    first = await world.store.revoke_key(world.org, key.id, None, T0)
    second = await world.store.revoke_key(world.org, key.id, world.env, at(60))
    assert first.revoked and second.revoked
    assert second == first


async def test_revoke_key_outside_its_scope_is_not_found(world: World) -> None:
    key = await world.key(world.env2)  # another environment's key
    theirs = await world.key(org=world.other_org, env=world.other_env)
    for org, key_id, env in ((world.org, key.id, world.env), (world.org, theirs.id, None),
                             (world.org, 999, None)):
        with pytest.raises(NotFound):
            await world.store.revoke_key(org, key_id, env, T0)
    for k in (key, theirs):
        found = await world.store.find_key(k.prefix)
        assert found is not None and not found.revoked


async def test_revoke_key_scoped_to_an_environment_cannot_see_the_last_admin_key(
    world: World,
) -> None:
    with pytest.raises(NotFound):
        await world.store.revoke_key(world.org, world.admin.id, world.env, T0)


async def test_revoke_the_last_unrevoked_admin_key_is_a_conflict(world: World) -> None:
    with pytest.raises(Conflict):
        await world.store.revoke_key(world.org, world.admin.id, None, T0)
    second = await world.key(admin=True)
    assert (await world.store.revoke_key(world.org, world.admin.id, None, T0)).revoked
    with pytest.raises(Conflict):
        await world.store.revoke_key(world.org, second.id, None, T0)
    assert await world.store.access_alive(second.id, world.env)


async def test_concurrent_revocations_never_revoke_the_last_admin_key(stores: Stores) -> None:
    world = await build_world(await stores.open())
    other_process = await stores.open()
    second = await world.key(admin=True)
    results = await asyncio.gather(
        world.store.revoke_key(world.org, world.admin.id, None, T0),
        other_process.revoke_key(world.org, second.id, None, T0),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["ApiKey", "Conflict"]
    alive = [await world.store.access_alive(k.id, world.env) for k in (world.admin, second)]
    assert sorted(alive) == [False, True]


async def test_rotate_admin_key_revokes_the_others(world: World) -> None:
    s = world.store
    extra_admin = await world.key(admin=True)
    env_key = await world.key(world.env)
    theirs = await world.key(org=world.other_org, admin=True)
    prefix, digest = key_material()

    new, revoked = await s.rotate_admin_key(world.org, prefix, digest, at(7))

    assert revoked == 2
    assert (new.organization_id, new.environment_id, new.admin, new.revoked) == (
        world.org, None, True, False)
    assert (new.prefix, new.digest, new.created_at) == (prefix, digest, at(7))
    assert await s.find_key(prefix) == new
    for k in (world.admin, extra_admin):
        found = await s.find_key(k.prefix)
        assert found is not None and found.revoked
    for k in (env_key, theirs):
        found = await s.find_key(k.prefix)
        assert found is not None and not found.revoked


async def test_rotate_admin_key_is_refused_on_postgresql_while_a_server_serves(
    store: SqlStore, world: World,
) -> None:
    if store.db.is_sqlite:
        pytest.skip("PostgreSQL only (a SQLite server holds the file lock instead)")
    u = make_url(store.db.url)
    serving = await asyncpg.connect(user=u.username, password=u.password, host=u.host,
                                    port=u.port, database=u.database)
    try:  # what every serving process holds (runtime/pgbridge.py)
        await serving.execute("SELECT pg_advisory_lock_shared($1)", SERVING_LOCK_ID)
        prefix, digest = key_material()
        with pytest.raises(Conflict):
            await store.rotate_admin_key(world.org, prefix, digest, T0)
    finally:
        await serving.close()
    assert await store.find_key(prefix) is None
    assert await store.access_alive(world.admin.id, world.env)
    new, revoked = await store.rotate_admin_key(world.org, prefix, digest, T0)
    assert (new.prefix, revoked) == (prefix, 1)
