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
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event

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
