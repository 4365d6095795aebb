"""The request principal and the service container handed to every use case."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
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


@dataclass
class Services:
    store: ServiceStore
    clock: Clock
    settings: Settings
    bus: Bus
    pepper: str = ""

    def __post_init__(self) -> None:
        self.connections = Connections(self.store)
