"""PostgreSQL's autocommit readers kept checked out between reads (``Database.read()``).

Contract: ``KeptConnections(keep).reader(engine)`` yields an ``AsyncConnection`` of
``engine`` (the autocommit read engine): the one a previous read left idle, or a new one
from the pool. ``idle`` lists the kept ones (``Database.checked_out()`` counts them as
given back); ``close()`` gives them all back (``Database.dispose()``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

KEEP_SECONDS = 60.0  # a kept reader goes back to the pool after this (its recycling, its checks)


class KeptConnections:
    """Autocommit readers kept checked out between reads, at most ``keep`` idle. The same
    for write transactions was measured (2026-12-07 (5), bench/README.md) and gave nothing
    measurable: ``write()`` takes its connection from the pool.

    Each ``read()`` and ``write()`` took a connection from SQLAlchemy's pool and gave it
    back: the checkout, the isolation level set and reset, and the return run in a task of
    its own were ~17 % of a ``GET /jobs/{id}``. A connection whose use ends without an error
    is kept for the next one instead (no transaction left open: nothing carries over), up to
    ``KEEP_SECONDS`` after it was taken from the pool, which then recycles and checks it as
    always. A use that fails closes its connection and gives every idle one back to the
    pool, as SQLAlchemy invalidates its pool when the database went away. ``idle`` counts
    in ``Database.checked_out()`` as given back."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.idle: list[tuple[Any, float]] = []  # (AsyncConnection, taken from the pool at)

    @asynccontextmanager
    async def reader(self, engine: Any) -> AsyncIterator[Any]:
        async with self._kept(engine) as conn:
            yield conn
            if conn.in_transaction():  # Core statements begin SQLAlchemy's own (no BEGIN)
                await conn.rollback()

    @asynccontextmanager
    async def _kept(self, engine: Any) -> AsyncIterator[Any]:
        if self.idle:
            conn, taken = self.idle.pop()
        else:
            conn, taken = await engine.connect(), time.monotonic()
        try:
            yield conn
        except BaseException:
            await self._close(conn)
            await self.close()
            raise
        if (len(self.idle) < self.keep and not conn.invalidated
                and time.monotonic() - taken < KEEP_SECONDS):
            self.idle.append((conn, taken))
        else:
            await conn.close()

    @staticmethod
    async def _close(conn: Any) -> None:
        with contextlib.suppress(Exception):  # a lost connection: the pool replaces it
            await conn.close()

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for conn, _taken in idle:
            await self._close(conn)
