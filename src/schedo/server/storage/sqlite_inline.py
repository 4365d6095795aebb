"""SQLite statements run inline on the event loop's thread (see db.py for why).

Contract:
- ``engine(url, begin)`` makes a sync SQLAlchemy engine on the stdlib ``sqlite3`` driver whose
  connections are set up as db.py wants them (WAL, busy timeout, foreign keys, autocommit at the
  driver level; ``begin``, when given, is the statement sent at the start of each transaction)
  and whose cursors buffer every row at ``execute``: a result never keeps a statement (and so a
  WAL read snapshot) open after the call that made it, whether or not the caller reads it all.
- ``InlineConnection`` wraps a sync ``Connection`` with the awaitable surface storage code uses
  on SQLAlchemy's ``AsyncConnection`` (``execute``, ``exec_driver_sql``, ``run_sync``); each
  call runs at once and never yields to the loop.
- ``KeptWriter().transaction(engine)`` is one write transaction on the writer connection kept
  for the process's life (the caller holds the write lock): everything in it, statements
  through SQLAlchemy or sent to the driver alone, commits at a normal exit and rolls back on
  any exception (a cancellation too); a driver error at BEGIN or COMMIT is SQLAlchemy's
  ``DBAPIError``. ``idle`` tells whether the kept connection is open and not in a write.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000
# execution option: this connection sends its own BEGIN/COMMIT (no automatic BEGIN IMMEDIATE)
MANUAL_BEGIN = "schedo_manual_begin"


class BufferedCursor(sqlite3.Cursor):
    """A cursor that reads every row at ``execute`` and then resets its statement."""

    _rows: list[Any]
    _pos: int

    def execute(self, sql: str, parameters: Any = (), /) -> BufferedCursor:
        super().execute(sql, parameters)
        self._keep()
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> BufferedCursor:
        super().executemany(sql, seq_of_parameters)
        self._keep()
        return self

    def _keep(self) -> None:
        self._rows = super().fetchall() if self.description else []
        self._pos = 0

    def fetchone(self) -> Any:
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchmany(self, size: int | None = None) -> list[Any]:
        n = self.arraysize if size is None else size
        got = self._rows[self._pos : self._pos + n]
        self._pos += len(got)
        return got

    def fetchall(self) -> list[Any]:
        got = self._rows[self._pos :]
        self._pos = len(self._rows)
        return got


class BufferedConnection(sqlite3.Connection):
    """A sqlite3 connection whose cursors are ``BufferedCursor``s."""

    def cursor(self, factory: Any = BufferedCursor) -> Any:
        return super().cursor(factory)


def engine(url: str, begin: str | None, **kw: Any) -> Engine:
    made = create_engine(url, connect_args={"factory": BufferedConnection,
                                            "check_same_thread": False}, **kw)

    @event.listens_for(made, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (pysqlite defers it)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    if begin is not None:
        @event.listens_for(made, "begin")
        def _begin(conn: Any) -> None:
            if conn.get_execution_options().get(MANUAL_BEGIN):
                return  # the caller sends BEGIN/COMMIT itself (storage.migrate)
            conn.exec_driver_sql(begin)

    return made


class InlineConnection:
    """What storage awaits on a connection, run at once on the calling thread."""

    __slots__ = ("sync_connection",)

    def __init__(self, conn: Connection) -> None:
        self.sync_connection = conn

    async def execute(self, statement: Any, parameters: Any = None, **kw: Any) -> Any:
        return self.sync_connection.execute(statement, parameters, **kw)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Any:
        return self.sync_connection.exec_driver_sql(statement, parameters)

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        return fn(self.sync_connection, *args, **kw)

    def on_driver(self, sql: str, params: Any, *, many: bool = False) -> Any:
        """``sql`` on the stdlib cursor under the connection (no SQLAlchemy execution
        context: prepared.py, driver_many.py), its rows buffered; a driver error raised as
        SQLAlchemy's ``DBAPIError``, as SQLAlchemy would."""
        raw = self.sync_connection.connection.dbapi_connection
        assert raw is not None
        try:
            return raw.executemany(sql, params) if many else raw.execute(sql, params)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc


class KeptWriter:
    """The writer connection, kept (module doc). ``engine.begin()`` took the connection from
    the pool and gave it back, with its events and a BEGIN through SQLAlchemy's execution
    context, on every write: about a third of a one-run completion's CPU (issue 18).
    SQLAlchemy's own transaction on the kept connection is bookkeeping only (``MANUAL_BEGIN``):
    it commits or rolls back with the driver's."""

    __slots__ = ("conn", "free")

    def __init__(self) -> None:
        self.conn: Connection | None = None
        self.free = True

    @property
    def idle(self) -> bool:
        return self.conn is not None and self.free

    @contextlib.contextmanager
    def transaction(self, engine: Engine) -> Iterator[InlineConnection]:
        conn = self.conn
        if conn is None or conn.invalidated or conn.engine is not engine:
            self.close()  # the engine changed (tests swap it) or the connection was lost
            conn = self.conn = engine.connect().execution_options(**{MANUAL_BEGIN: True})
        raw = conn.connection.dbapi_connection
        assert raw is not None
        _driver(raw.execute, "BEGIN IMMEDIATE")
        self.free = False
        try:
            yield InlineConnection(conn)
        except BaseException:
            self._end(conn, raw, commit=False)
            raise
        else:
            self._end(conn, raw, commit=True)
        finally:
            self.free = True

    def _end(self, conn: Connection, raw: Any, *, commit: bool) -> None:
        try:
            if conn.in_transaction():  # SQLAlchemy's: ends the driver's with it
                conn.commit() if commit else conn.rollback()
            if raw.in_transaction:  # statements sent to the driver alone (prepared.py)
                _driver(raw.commit if commit else raw.rollback)
        except BaseException:
            self.close()  # whatever the error left, the next write starts anew
            raise

    def close(self) -> None:
        kept, self.conn = self.conn, None
        if kept is not None:
            with contextlib.suppress(Exception):
                kept.close()


def _driver(call: Callable[..., Any], *args: Any) -> None:
    try:
        call(*args)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(" ".join(map(str, args)) or call.__name__, (), exc,
                                  sqlite3.Error) from exc
