"""Authentication: an ``x-api-key`` (and optional ``X-API-ENVIRONMENT``) -> Principal."""

from __future__ import annotations

import hmac
import re

from ...limits import ID_DIGITS, MAX_ID
from ..domain.audit import Via
from ..domain.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from ..domain.records import ApiKey
from . import keys
from .context import Principal, Services

_ID = re.compile(ID_DIGITS)


async def authenticate(svc: Services, api_key: str | None, env_header: str | None) -> Principal:
    if not api_key:
        raise Unauthorized("x-api-key: missing API key")
    if not keys.plausible(api_key):  # never sent to the database (a NUL is a PostgreSQL error)
        raise Unauthorized("x-api-key: unknown or revoked API key")
    wanted: int | None = None
    bad_header: str | None = None
    if env_header is not None and env_header.strip() != "":
        text = env_header.strip()
        # one spelling, as ids in paths ("0", "02", "2_0", "-1": 400)
        if _ID.fullmatch(text) is None or int(text) > MAX_ID:
            bad_header = "X-API-ENVIRONMENT: must be an environment id (integer)"
        else:
            wanted = int(text)
    found = await svc.store.resolve_key(keys.lookup_prefix(api_key), wanted)
    if found is None or not keys.matches(svc.pepper, api_key, found[0].digest) or found[0].revoked:
        raise Unauthorized("x-api-key: unknown or revoked API key")
    if bad_header is not None:
        raise InvalidInput(bad_header)
    stored, resolved = found
    if stored.admin:
        if resolved is None:
            raise NotFound(f"environment {wanted} not found" if wanted is not None
                           else "environment: the organization has no environment")
        env_id = resolved
    else:
        assert stored.environment_id is not None
        if wanted is not None and wanted != stored.environment_id:
            raise Forbidden(
                "X-API-ENVIRONMENT: an environment key may only use its own environment"
            )
        env_id = stored.environment_id
    return Principal(
        key_id=stored.id,
        org_id=stored.organization_id,
        env_id=env_id,
        admin=stored.admin,
        key_env_id=stored.environment_id,
        key_name=stored.name,
        grant=stored.scope,
    )


def require_admin(p: Principal) -> None:
    if not p.admin:
        raise Forbidden("this route needs an admin (organization) key")


async def find_key(svc: Services, api_key: str) -> ApiKey | None:
    """The stored key whose lookup prefix ``api_key`` has, revoked or not (never cached)."""
    return await svc.store.find_key(keys.lookup_prefix(api_key))


async def is_revoked_key(svc: Services, api_key: str) -> bool:
    """True when ``api_key`` is a real key of this server that was revoked (not a guess)."""
    if not keys.plausible(api_key):
        return False
    found = await find_key(svc, api_key)
    return found is not None and found.revoked and keys.matches(svc.pepper, api_key, found.digest)


async def recheck(
    svc: Services, *, key_id: int, prefix: str, digest_tag: str, env_id: int | None
) -> tuple[Principal, ApiKey] | None:
    """Re-authenticate a key known by its id, lookup prefix and the start of its stored
    digest (a dashboard session; never cached): None if it is gone, revoked or another key.
    ``env_id`` is the environment an admin key works in; when it was deleted, the
    organisation's first environment."""
    found = await svc.store.resolve_key(prefix, env_id)
    if found is None:
        return None
    record, resolved = found
    if (
        record.id != key_id
        or record.revoked
        or not hmac.compare_digest(record.digest[: len(digest_tag)], digest_tag)
    ):
        return None
    if record.admin:
        if resolved is None:
            again = await svc.store.resolve_key(prefix, None)
            resolved = again[1] if again is not None else None
        if resolved is None:
            return None
    else:
        resolved = record.environment_id
    if resolved is None:
        return None
    principal = Principal(
        key_id=record.id,
        org_id=record.organization_id,
        env_id=resolved,
        admin=record.admin,
        key_env_id=record.environment_id,
        key_name=record.name,
        via=Via.DASHBOARD.value,
        grant=record.scope,
    )
    return principal, record
