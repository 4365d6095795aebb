"""aiosqlite connections whose statements cost one thread hop each.

aiosqlite runs every call of a cursor (create, execute, fetchall, close) on its own thread,
one queue hand-off and one loop wake-up each; SQLAlchemy's adapter makes four such calls per
statement. On this machine a hop costs ~0.2 ms of CPU, more than the statement itself, and the
event loop pays it on every query. ``connect()`` returns the aiosqlite connection wrapped so
that ``cursor()`` gives a cursor whose ``execute`` runs create + execute + fetchall + close in
one call on the connection's thread and keeps the rows; fetching and closing are then free.

Contract: behaves like an aiosqlite connection/cursor for what SQLAlchemy's aiosqlite dialect
uses (``cursor``, ``execute``, ``executemany``, ``fetch*``, ``close``, ``description``,
``rowcount``, ``lastrowid``; everything else is delegated to the aiosqlite connection).
Results are fully buffered, as the dialect's default (non-streaming) cursor buffers them too.
It uses aiosqlite's ``_execute`` (run a function on the connection's thread) and ``_conn``
(the sqlite3 connection, only touched on that thread), the same internals SQLAlchemy's own
dialect relies on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

_Outcome = tuple[Any, list[Any], int, int | None]


def _run(conn: sqlite3.Connection, sql: str, params: Any, many: bool = False) -> _Outcome:
    """One statement (``many``: ``executemany`` over a sequence of parameters), in the
    connection's thread: everything the cursor will be asked for, in one hop."""
    cur = conn.cursor()
    try:
        if many:
            cur.executemany(sql, params)
        else:
            cur.execute(sql, params)
        desc = cur.description
        rows = cur.fetchall() if desc else []
        return desc, rows, cur.rowcount, cur.lastrowid
    finally:
        cur.close()


class OneHopCursor:
    """What the dialect needs of an aiosqlite cursor; ``execute`` is the only hop."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []
        self._pos = 0

    async def __aenter__(self) -> OneHopCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._rows = []

    def _keep(self, outcome: _Outcome) -> OneHopCursor:
        self.description, self._rows, self.rowcount, self.lastrowid = outcome
        self._pos = 0
        return self

    async def _hop(self, sql: str, params: Any, many: bool) -> OneHopCursor:
        outcome = await self._conn._execute(_run, self._conn._conn, sql, params, many)  # type: ignore[no-untyped-call]
        return self._keep(outcome)

    async def execute(self, sql: str, parameters: Any = None) -> OneHopCursor:
        return await self._hop(sql, () if parameters is None else parameters, False)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> OneHopCursor:
        return await self._hop(sql, parameters, True)

    async def fetchone(self) -> Any:
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        n = self.arraysize if size is None else size
        got = self._rows[self._pos : self._pos + n]
        self._pos += len(got)
        return got

    async def fetchall(self) -> Sequence[Any]:
        got = self._rows[self._pos :]
        self._pos = len(self._rows)
        return got

    async def close(self) -> None:
        self._rows = []
        self._pos = 0


class OneHopConnection:
    """An aiosqlite connection whose cursors are ``OneHopCursor``s."""

    def __init__(self, inner: aiosqlite.Connection) -> None:
        self._inner = inner

    def cursor(self) -> OneHopCursor:
        return OneHopCursor(self._inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def connect(path: str) -> OneHopConnection:
    pending = aiosqlite.connect(path)
    pending._thread.daemon = True  # as SQLAlchemy's dialect does: never hold up interpreter exit
    return OneHopConnection(await pending)
