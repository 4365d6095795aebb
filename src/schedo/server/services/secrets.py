"""Webhook signature keys a person manages (issue 22): read an environment's key and rotate
it with an overlap, during which the previous key still signs beside the new one (push
requests and notification webhooks carry both signatures; ``schedo.webhooks``).

Admin (organisation) keys only; an environment of another organisation answers exactly like
a missing one. The overlap is 0 (the old key stops at once: a leaked key) to 7 days, 24 h by
default; a second rotation during an overlap drops the oldest key at once (two keys at most).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..domain.errors import InvalidInput
from ..domain.records import ApiKey
from ..storage.contracts.secrets import SigningState
from . import keys
from .auth import require_admin
from .context import Principal, Services

__all__ = ["OVERLAP_DEFAULT", "OVERLAP_MAX", "SigningState", "overlap_seconds",
           "previous_key", "rotate", "rotate_admin_key", "state", "states"]

OVERLAP_DEFAULT = 24 * 3600
OVERLAP_MAX = 7 * 24 * 3600


def overlap_seconds(value: Any) -> int:
    """The overlap of a rotation in seconds: a whole number from 0 to 7 days (InvalidInput,
    400, otherwise; booleans and text are no numbers)."""
    if value is None:
        return OVERLAP_DEFAULT
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("overlap_seconds: must be a whole number of seconds")
    if not 0 <= value <= OVERLAP_MAX:
        raise InvalidInput(f"overlap_seconds: must be from 0 to {OVERLAP_MAX} (7 days)")
    return value


async def rotate(
    svc: Services, p: Principal, env_id: int, overlap: Any = None, expected: str | None = None
) -> SigningState:
    """A new signature key for environment ``env_id``; the old one signs beside it for
    ``overlap`` seconds (validated first: a bad value changes nothing). Recorded in the audit
    log of that environment. ``expected``: the fingerprint of the key the caller saw
    (``SigningState.fingerprint``, the dashboard's form); Conflict, nothing changed, when the
    key was rotated since (a form sent twice must not drop the key receivers hold)."""
    require_admin(p)
    seconds = overlap_seconds(overlap)
    now = svc.clock.now()
    return await svc.store.rotate_signature_key(
        p.org_id, env_id, keys.new_secret(), now, now + timedelta(seconds=seconds),
        actor=p.actor, expected=expected,
    )


async def state(svc: Services, p: Principal, env_id: int) -> SigningState:
    """Environment ``env_id``'s key and the end of a running overlap."""
    require_admin(p)
    return await svc.store.signing_state(p.org_id, env_id, svc.clock.now())


async def states(svc: Services, p: Principal) -> list[SigningState]:
    """Every environment's key and overlap, for the dashboard (admin keys only)."""
    require_admin(p)
    now = svc.clock.now()
    return [await svc.store.signing_state(p.org_id, e.id, now)
            for e in await svc.store.list_environments(p.org_id)]


async def previous_key(svc: Services, env_id: int) -> str:
    """The environment's previous key while its overlap runs, else "" (the notification
    webhook signs with it too)."""
    found = await svc.store.previous_signature_keys([env_id], svc.clock.now())
    return found.get(env_id, "")


async def rotate_admin_key(svc: Services, p: Principal) -> tuple[ApiKey, str]:
    """The dashboard's admin key rotation: a new admin key (returned in full, to be shown
    once) and every admin key of the organisation revoked, the caller's included (Forbidden
    for an environment key; Conflict when the caller's key was revoked meanwhile). Open
    streams and long polls of the revoked keys end."""
    require_admin(p)
    key = keys.new_key()
    record, _revoked = await svc.store.replace_admin_key(
        p.org_id, p.key_id, keys.lookup_prefix(key), keys.digest(svc.pepper, key),
        svc.clock.now(), actor=p.actor, record_in=p.env_id,
    )
    svc.bus.access_changed.notify()
    return record, key
