"""Operational use cases: is the database reachable and does it take writes (``/readyz``);
the live counts behind the gauges of ``/metrics``."""

from __future__ import annotations

import asyncio

from ..domain.errors import Unavailable
from ..storage.contracts import LiveCounts
from .context import Services

READY_TIMEOUT = 3.0  # seconds

__all__ = ["READY_TIMEOUT", "LiveCounts", "live_counts", "not_ready"]


async def live_counts(svc: Services) -> LiveCounts:
    """Runs pending and running by job type, the notification outbox's depth (one query;
    every process reads the same global values)."""
    return await svc.store.live_counts()


async def not_ready(svc: Services) -> str | None:
    """Why the server cannot serve now ("database: OperationalError", "database not writable:
    SQLITE_FULL: …"), or None when it can. A database that stopped answering (a cut network,
    a full backlog) is not ready either: said within ``READY_TIMEOUT`` instead of hanging
    until the driver's connect timeout."""
    try:
        return await asyncio.wait_for(_check(svc), READY_TIMEOUT)
    except TimeoutError:
        return f"database: no answer within {READY_TIMEOUT:g} s"


async def _check(svc: Services) -> str | None:
    try:
        await svc.store.ping()
    except Unavailable as exc:
        return f"database: {exc.error}"
    except Exception as exc:  # any other error of the driver (a refused connect) too
        return f"database: {type(exc).__name__}"
    failure = await svc.store.write_failure()
    if failure is not None:
        return f"database not writable: {failure}"
    return None
