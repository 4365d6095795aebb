"""Organisations, environments and API keys: their storage protocols and promises.

Part of the storage contract; the rules that hold for every method are in
``storage/contracts/__init__.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ...domain.audit import Actor
from ...domain.records import (
    ApiKey,
    Environment,
    Organization,
)


class OrgStore(Protocol):
    async def bootstrap(
        self,
        *,
        org_name: str,
        env_name: str,
        signature_key: str,
        admin_prefix: str,
        admin_digest: str,
        pepper: str,
        now: datetime,
    ) -> bool:
        """On an empty database create organisation 1, environment 1, the admin key and the
        key pepper, and return True. On a database that already has organisation 1, change
        nothing and return False. Safe to call from several processes at once."""

    async def get_meta(self, key: str) -> str | None:
        """The value stored under ``key`` in server_meta, or None."""

    async def get_org(self, org_id: int) -> Organization:
        """The organisation; NotFound if absent."""

    async def create_org(self, name: str, now: datetime) -> Organization:
        """A new organisation (used by tests and future multi-tenant setups)."""

    async def list_emails(self, org_id: int) -> list[str]:
        """The notification addresses of the organisation, in the order they were added."""

    async def add_email(
        self, org_id: int, email: str, now: datetime,
        actor: Actor | None = None, record_in: int | None = None,
    ) -> list[str]:
        """Add the address (no-op if present: addresses compare without regard to case,
        ``casefold``, and the first spelling stays); return the list. With an ``actor`` and
        ``record_in``: "created" (kind "email", the address as the name) recorded in that
        environment when it was added, nothing for an address already there."""

    async def remove_email(
        self, org_id: int, email: str, now: datetime | None = None,
        actor: Actor | None = None, record_in: int | None = None,
    ) -> list[str]:
        """Remove the address in any spelling of its case (no-op if absent); return the
        list. With an ``actor``,
        ``record_in`` and ``now``: "deleted" recorded there when it was removed."""


class EnvironmentStore(Protocol):
    async def create_environment(
        self, org_id: int, name: str, signature_key: str, now: datetime,
        actor: Actor | None = None,
    ) -> Environment:
        """A new environment of the organisation (with an ``actor``: "created", recorded in
        the new environment)."""

    async def list_environments(self, org_id: int) -> list[Environment]:
        """The organisation's environments, oldest first."""

    async def get_environment(self, org_id: int, env_id: int) -> Environment:
        """NotFound unless the environment exists and belongs to ``org_id``."""

    async def delete_environment(
        self, org_id: int, env_id: int, actor: Actor | None = None,
        now: datetime | None = None, record_in: int | None = None,
    ) -> Environment:
        """Delete the environment with its jobs, executions, keys and audit events. NotFound
        as above; Conflict if it is the organisation's last environment. With an ``actor``
        and ``now``, records "deleted" in ``record_in`` (when None or the deleted one: the
        organisation's first environment left)."""


class KeyStore(Protocol):
    async def create_key(
        self,
        *,
        org_id: int,
        env_id: int | None,
        name: str,
        prefix: str,
        digest: str,
        admin: bool,
        internal: bool,
        now: datetime,
        actor: Actor | None = None,
        scope: str = "full",
    ) -> ApiKey:
        """Store a key (digest only; the secret never reaches storage). With an ``actor``,
        an environment key's creation is recorded in its environment."""

    async def find_key(self, prefix: str) -> ApiKey | None:
        """The key with this lookup prefix, revoked or not, or None. Never cached: revocation
        takes effect on the next request."""

    async def resolve_key(
        self, prefix: str, wanted_env: int | None
    ) -> tuple[ApiKey, int | None] | None:
        """One read for authentication: the key with this lookup prefix (revoked or not) and
        an environment of the key's organisation: ``wanted_env`` if it belongs to that
        organisation (else None), or the organisation's first environment when
        ``wanted_env`` is None. None when no key has this prefix."""

    async def access_alive(self, key_id: int, env_id: int) -> bool:
        """Whether the key is unrevoked and the environment exists (an open stream or long
        poll checks this when access changed somewhere)."""

    async def list_keys(self, org_id: int, env_id: int) -> list[ApiKey]:
        """The environment keys of one environment of the organisation."""

    async def revoke_key(
        self, org_id: int, key_id: int, env_id: int | None, now: datetime,
        actor: Actor | None = None, record_in: int | None = None,
    ) -> ApiKey:
        """Mark the key revoked (idempotent; with an ``actor``, the first revocation is
        recorded in the key's environment, an admin key's in ``record_in``). ``env_id``
        restricts the search to one environment's keys (environment-key callers); None
        allows every key of the org.
        NotFound if no such key in scope; Conflict if it is the organisation's last
        unrevoked admin key (nothing could then make another)."""

    async def rotate_admin_key(
        self, org_id: int, prefix: str, digest: str, now: datetime,
        actor: Actor | None = None,
    ) -> tuple[ApiKey, int]:
        """Store a new admin key and revoke every other admin key of the organisation, in one
        transaction; return it and the number revoked (with an ``actor``, each revocation and
        the creation are recorded in the organisation's first environment). Conflict on
        PostgreSQL while a server process serves the database (offline command:
        ``schedo admin-key --rotate``)."""
