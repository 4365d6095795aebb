"""Webhook signature keys and their rotation (issue 22): the storage protocol and promises.

Part of the storage contract; the rules that hold for every method are in
``storage/contracts/__init__.py``. An environment signs with its current key and, for an
overlap after a rotation, with the previous one too (both valid until the overlap ends)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ...domain.audit import Actor
from ...domain.records import ApiKey


@dataclass(frozen=True, slots=True)
class SigningState:
    """An environment's signing keys as people see them: the current key and until when the
    previous one still signs (None: no overlap running at ``now``)."""

    environment_id: int
    environment_name: str
    key: str  # "" when this server cannot unseal it
    previous_valid_until: datetime | None

    @property
    def fingerprint(self) -> str:
        """Names the current key without revealing it (a form that rotates sends the one it
        saw, so a form sent again rotates nothing: ``rotate_signature_key(expected=...)``)."""
        return key_fingerprint(self.key)


def key_fingerprint(key: str) -> str:
    """16 hex digits of SHA-256 of ``key``: tells keys apart, tells nothing of a random key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


class SecretStore(Protocol):
    async def rotate_signature_key(
        self, org_id: int, env_id: int, new_key: str, now: datetime,
        previous_valid_until: datetime, *, actor: Actor | None = None,
        expected: str | None = None,
    ) -> SigningState:
        """Make ``new_key`` environment ``env_id``'s key (sealed) and keep its key so far as
        the previous one, valid until ``previous_valid_until`` (``now`` or earlier: not at
        all). A key that was already previous (a second rotation within an overlap) is
        dropped: at most two keys sign. NotFound for an environment of another organisation
        or none. With an ``actor``: "rotated" recorded in that environment, the keys only as
        "changed". One transaction: two rotations at once both take effect, one after the
        other (the later one's previous key is the earlier one's new key). With ``expected`` (a
        ``key_fingerprint``): Conflict, nothing changed, unless the current key is the one it
        names, checked under the row's lock (a form sent twice rotates once)."""

    async def signing_state(self, org_id: int, env_id: int, now: datetime) -> SigningState:
        """The environment's current key and the end of a running overlap; NotFound for an
        environment of another organisation or none."""

    async def previous_signature_keys(
        self, env_ids: Collection[int], now: datetime
    ) -> dict[int, str]:
        """The previous keys still valid at ``now`` (strictly before their end) of these
        environments, by environment id; environments without one are left out (also those
        whose previous key does not unseal)."""

    async def replace_admin_key(
        self, org_id: int, acting_key_id: int, prefix: str, digest: str, now: datetime,
        *, actor: Actor | None = None, record_in: int | None = None,
    ) -> tuple[ApiKey, int]:
        """The dashboard's admin key rotation, on a serving database (unlike
        ``rotate_admin_key``, the offline way back): a new admin key for the organisation and
        every other admin key revoked, in one transaction; returns the new key and how many
        were revoked. Refused (Conflict, nothing changed) when ``acting_key_id`` is not an
        active admin key of the organisation any more (two rotations at once: the second is
        refused). With an ``actor``: the revocations and the creation recorded in
        environment ``record_in``."""
