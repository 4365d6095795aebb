"""The request principal and the service container handed to every use case."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..domain.audit import Actor, Via
from ..runtime.bus import Bus
from ..runtime.clock import Clock
from ..storage.contracts import ServiceStore
from .connections import Connections


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key, its organisation, and the environment it acts in."""

    key_id: int
    org_id: int
    env_id: int
    admin: bool
    key_env_id: int | None  # the key's own environment (None for admin keys)
    key_name: str = ""  # the key's name (the audit log's actor)
    via: str = Via.API.value  # the way in: "api", or "dashboard" (a dashboard session)
    grant: str = "full"  # the key's scope or the user's role here (domain/permissions.py)
    user_id: int | None = None  # a user's dashboard session (key_id is then 0, no key)

    @property
    def actor(self) -> Actor:
        """Who the audit log records for this caller's changes: the key, or the user (by
        id and email address)."""
        if self.user_id is not None:
            return Actor(key_id=None, key_name=self.key_name, via=self.via,
                         user_id=self.user_id)
        return Actor(key_id=self.key_id, key_name=self.key_name, via=self.via)


@dataclass
class Services:
    store: ServiceStore
    clock: Clock
    settings: Settings
    bus: Bus
    pepper: str = ""

    def __post_init__(self) -> None:
        self.connections = Connections(self.store)
