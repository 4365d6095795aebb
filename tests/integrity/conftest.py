"""Integrity tests use the engine helpers (ticker and reaper on the fake clock)."""

from tests.engine.conftest import engine

__all__ = ["engine"]
