"""Statements sent to asyncpg itself, under SQLAlchemy's adapter (PostgreSQL): the one place
that reaches into the adapter (``prepared.py``'s statements and ``driver_many.py``'s batches
use it).

Contract:
- ``adapter(c)``: the asyncpg adapter under a ``read()``/``write()`` connection of PostgreSQL,
  None on SQLite or when the connection has none checked out.
- ``begun(c, adapted)``: inside a write transaction (not autocommit), the adapter's
  transaction is begun if no statement began it yet, as SQLAlchemy's cursor does before its
  first statement: the statements that follow on the driver belong to it, and SQLAlchemy's
  commit or rollback at the end of ``write()`` ends it.
- ``translated(c, adapted, exc, sql, args)``: the error SQLAlchemy would raise for a driver
  error of ``sql`` (the adapter's DB-API error wrapped as ``sqlalchemy.exc.DBAPIError``'s
  subclass of the same name, e.g. ``IntegrityError``), with the connection invalidated when
  the error means it was lost, as SQLAlchemy does, so the pool opens a new one.

- ``KeptConnections``: the autocommit connections of ``Database.read()``, kept checked
  out between reads instead of going back to the pool after each (the class's doc).

Why: each statement of a write transaction through SQLAlchemy's execution context and the
greenlet hop cost about as much CPU as asyncpg's own work for it (py-spy of a completion:
the greenlet path 28 % of the request, asyncpg 20 %); issue 18. The attributes reached are
SQLAlchemy 2.x's (``_dbapi_connection``, ``_transaction``, ``_start_transaction``,
``_handle_exception``); tests/contract runs every storage method on PostgreSQL through here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import DBAPIError

KEEP_SECONDS = 60.0  # a kept reader goes back to the pool after this (its recycling, its checks)


def adapter(c: Any) -> Any | None:
    sync = getattr(c, "sync_connection", None)
    if sync is None or sync.dialect.driver != "asyncpg":
        return None
    fairy = sync._dbapi_connection  # checked out already by AsyncConnection.start()
    return None if fairy is None else fairy.dbapi_connection


async def begun(c: Any, adapted: Any) -> None:
    if adapted._transaction is None:
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                try:
                    await adapted._start_transaction()
                except Exception as exc:
                    raise await translated(c, adapted, exc, "BEGIN", ()) from exc


async def translated(c: Any, adapted: Any, exc: Exception, sql: str, args: Any) -> Exception:
    dialect = c.sync_connection.dialect
    dbapi_error: Exception = exc
    if not isinstance(exc, dialect.loaded_dbapi.Error):
        try:
            adapted._handle_exception(exc)  # raises the adapter's DB-API error for it
        except Exception as mapped:
            dbapi_error = mapped
    if not isinstance(dbapi_error, dialect.loaded_dbapi.Error):
        return dbapi_error  # not the driver's: as it is
    if dialect.is_disconnect(dbapi_error, adapted, None):
        await c.invalidate(dbapi_error)
    wrapped: Exception = DBAPIError.instance(sql, args, dbapi_error,
                                             dialect.loaded_dbapi.Error, dialect=dialect)
    return wrapped


class KeptConnections:
    """PostgreSQL connections kept checked out between uses, at most ``keep`` idle: the
    autocommit readers of ``Database.read()`` (``reader()``). The same for the write
    transactions was measured (2026-12-07 (5), bench/README.md) and gave nothing
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
