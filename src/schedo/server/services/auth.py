"""Authentication: an ``x-api-key`` (and optional ``X-API-ENVIRONMENT``) -> Principal."""

from __future__ import annotations

from ..domain.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from . import keys
from .context import Principal, Services


async def authenticate(svc: Services, api_key: str | None, env_header: str | None) -> Principal:
    if not api_key:
        raise Unauthorized("x-api-key: missing API key")
    if len(api_key) > keys.MAX_KEY_LEN:
        raise Unauthorized("x-api-key: unknown or revoked API key")
    wanted: int | None = None
    bad_header: str | None = None
    if env_header is not None and env_header.strip() != "":
        try:
            wanted = int(env_header.strip())
        except ValueError:
            bad_header = "X-API-ENVIRONMENT: must be an environment id (integer)"
        else:
            if wanted <= 0 or wanted > 2**31 - 1:
                wanted, bad_header = None, "X-API-ENVIRONMENT: must be a positive environment id"
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
    )


def require_admin(p: Principal) -> None:
    if not p.admin:
        raise Forbidden("this route needs an admin (organization) key")
