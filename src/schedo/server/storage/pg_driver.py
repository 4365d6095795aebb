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

Why: each statement of a write transaction through SQLAlchemy's execution context and the
greenlet hop cost about as much CPU as asyncpg's own work for it (py-spy of a completion:
the greenlet path 28 % of the request, asyncpg 20 %); issue 18. The attributes reached are
SQLAlchemy 2.x's (``_dbapi_connection``, ``_transaction``, ``_start_transaction``,
``_handle_exception``); tests/contract runs every storage method on PostgreSQL through here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError

from .db import driver_dialect, on_asyncpg


def adapter(c: Any) -> Any | None:
    if not on_asyncpg(c):
        return None
    fairy = c.sync_connection._dbapi_connection  # checked out by AsyncConnection.start()
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
    dialect = driver_dialect(c)
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
