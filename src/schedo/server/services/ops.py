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
    # not asyncio.wait_for: on timeout it cancels the check and then waits for the
    # cancellation to finish, and a driver cancelled mid-connect on a cut network (the pool
    # closing a half-open connection) can take longer than the probe's caller waits. The check
    # is left to end in the background; the probe answers at READY_TIMEOUT.
    check = asyncio.ensure_future(_check(svc))
    done, _ = await asyncio.wait({check}, timeout=READY_TIMEOUT)
    if check in done:
        return check.result()
    check.cancel()
    _PENDING.add(check)
    check.add_done_callback(_forget)
    return f"database: no answer within {READY_TIMEOUT:g} s"


_PENDING: set[asyncio.Future[str | None]] = set()  # abandoned checks, kept until they end


def _forget(task: asyncio.Future[str | None]) -> None:
    _PENDING.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: an abandoned check's error is not an unhandled one


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
