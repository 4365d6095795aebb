"""Organisation, environments, API keys and notification emails; and the first-start
bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.errors import InvalidInput, NotFound
from ..domain.permissions import Scope, scope_problem
from ..domain.records import ApiKey, Environment, Organization
from ..domain.text import text_problem
from . import keys, validation
from .auth import require_admin
from .context import Principal, Services

ORG_NAME = "Default organization"
ENV_NAME = "production"


@dataclass(frozen=True)
class Bootstrap:
    created: bool
    admin_key: str | None  # the generated key, shown once; None when not generated


async def bootstrap(svc: Services, admin_key: str | None) -> Bootstrap:
    """Create organisation 1, environment 1 and the admin key on an empty database, then
    load the key pepper. ``admin_key`` (SCHEDO_ADMIN_KEY) is used if given, else one is
    generated and returned so the caller can print it once."""
    problem = None if admin_key is None else keys.key_problem(admin_key)
    if problem is not None:
        raise InvalidInput(f"SCHEDO_ADMIN_KEY: {problem}")
    generated = admin_key is None
    key = admin_key or keys.new_key()
    pepper = keys.new_secret()
    created = await svc.store.bootstrap(
        org_name=ORG_NAME,
        env_name=ENV_NAME,
        signature_key=keys.new_secret(),
        admin_prefix=keys.lookup_prefix(key),
        admin_digest=keys.digest(pepper, key),
        pepper=pepper,
        now=svc.clock.now(),
    )
    stored = await svc.store.get_meta("api_key_pepper")
    if stored is None:
        raise RuntimeError("database has an organization but no API key pepper")
    svc.pepper = stored
    return Bootstrap(created=created, admin_key=key if created and generated else None)


async def org(svc: Services, p: Principal) -> tuple[Organization, list[str]]:
    return await svc.store.get_org(p.org_id), await svc.store.list_emails(p.org_id)


async def emails(svc: Services, p: Principal) -> list[str]:
    return await svc.store.list_emails(p.org_id)


async def add_email(svc: Services, p: Principal, address: str) -> list[str]:
    require_admin(p)
    return await svc.store.add_email(p.org_id, validation.email(address), svc.clock.now(),
                                     actor=p.actor, record_in=p.env_id)


async def remove_email(svc: Services, p: Principal, address: str) -> list[str]:
    require_admin(p)
    problem = text_problem(address)
    if problem is not None or len(address) > validation.EMAIL_MAX:
        raise InvalidInput(f"email: {problem or 'too long'}")
    return await svc.store.remove_email(p.org_id, address.strip(), svc.clock.now(),
                                        actor=p.actor, record_in=p.env_id)


async def create_environment(svc: Services, p: Principal, name: str) -> Environment:
    require_admin(p)
    return await svc.store.create_environment(
        p.org_id, validation.plain_name(name), keys.new_secret(), svc.clock.now(),
        actor=p.actor,
    )


async def list_environments(svc: Services, p: Principal) -> list[Environment]:
    require_admin(p)
    return await svc.store.list_environments(p.org_id)


async def visible_environments(svc: Services, p: Principal) -> list[Environment]:
    """The environments the key may work in: every one of the organisation for an admin
    key, its own for an environment key (NotFound if it was deleted)."""
    if p.admin:
        return await svc.store.list_environments(p.org_id)
    return [await svc.store.get_environment(p.org_id, p.env_id)]


async def delete_environment(svc: Services, p: Principal, env_id: int) -> Environment:
    require_admin(p)
    env = await svc.store.delete_environment(p.org_id, env_id, actor=p.actor,
                                            now=svc.clock.now(), record_in=p.env_id)
    svc.bus.jobs_changed.notify()
    svc.bus.access_changed.notify()  # its open streams and long polls end
    return env


async def create_key(
    svc: Services, p: Principal, env_id: int, name: str, scope: str | None = None
) -> tuple[ApiKey, str]:
    """A new environment key with ``scope`` (default full); returns the record and the full
    secret (shown once)."""
    validation.plain_name(name)
    scope = Scope.FULL.value if scope is None or scope.strip() == "" else scope.strip()
    problem = scope_problem(scope)
    if problem is not None:
        raise InvalidInput(problem)
    if not p.admin and env_id != p.key_env_id:
        # an environment key sees only its own environment: any other one answers exactly
        # as a missing one (SPEC 2: never reveal that it exists)
        raise NotFound(f"environment {env_id} not found")
    await svc.store.get_environment(p.org_id, env_id)
    secret = keys.new_key()
    record = await svc.store.create_key(
        org_id=p.org_id,
        env_id=env_id,
        name=name,
        prefix=keys.lookup_prefix(secret),
        digest=keys.digest(svc.pepper, secret),
        admin=False,
        internal=False,
        now=svc.clock.now(),
        actor=p.actor,
        scope=scope,
    )
    return record, secret


async def list_keys(svc: Services, p: Principal) -> list[ApiKey]:
    return await svc.store.list_keys(p.org_id, p.env_id)


async def revoke_key(svc: Services, p: Principal, key_id: int) -> ApiKey:
    key = await svc.store.revoke_key(
        p.org_id, key_id, None if p.admin else p.key_env_id, svc.clock.now(),
        actor=p.actor, record_in=p.env_id,
    )
    svc.bus.access_changed.notify()  # its open streams and long polls end
    return key
