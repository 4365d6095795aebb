"""Batched writes sent to the driver as they are (``exec_driver_sql``), their SQL compiled once
per dialect: the hot ``executemany`` writes of a herd (a report batch's run ends, a tick's job
updates, the health turns, the status mirror), one row of values per run or job.

On SQLite (an ``InlineConnection``) the rows go to the stdlib cursor's ``executemany`` under
the connection, as ``prepared.py``'s reads do (SQLAlchemy's execution context was half of a
one-run completion's ``executemany``); on PostgreSQL, inside a write transaction, to
asyncpg's ``executemany`` (``pg_driver.py``). A driver error is raised as SQLAlchemy's
``DBAPIError``, as before.

SQLAlchemy's ``executemany`` of a compiled statement processes every parameter of every row
(the bind processors, the positional tuple built by name): in the herd's profile that cost
more than the statements themselves (~7 % of the server's CPU for 10,000 runs). Here the
caller gives each row as a tuple of values the driver takes as they are (epoch milliseconds
for ``EpochMs`` columns, ``to_ms``; strings for enums; no JSON), in the order of ``names``;
the constants of the statement (a status compared to a literal) are filled in from the
compiled form once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

from ..domain.timefmt import to_ms
from . import pg_driver
from .db import Conn, Database
from .sqlite_inline import InlineConnection


def ms_or_none(t: datetime | None) -> int | None:
    """An ``EpochMs`` column's value as the driver takes it."""
    return None if t is None else to_ms(t)


def driver_value(v: Any) -> Any:
    """A value as the driver takes it: datetimes as epoch milliseconds (``EpochMs``)."""
    return to_ms(v) if isinstance(v, datetime) else v


class DriverMany:
    """``stmt`` (with ``bindparam``s named ``names``) run over many rows of values."""

    def __init__(self, stmt: Any, names: Sequence[str]) -> None:
        self.stmt = stmt
        self.names = tuple(names)
        # per Database (its dialect); weak: a disposed Database takes its own along
        self._by_db: WeakKeyDictionary[Database, tuple[str, Any, tuple[Any, ...]]] = (
            WeakKeyDictionary())

    def compiled(self, db: Database) -> tuple[str, Any, tuple[Any, ...]]:
        """(SQL text, a getter of the positional values from ``row + constants``, constants)."""
        got = self._by_db.get(db)
        if got is None:
            comp = db.compiled(self.stmt)
            order = comp.positiontup
            if order is None:
                raise TypeError("driver_many: a positional paramstyle is needed")
            consts: list[Any] = []
            index: list[int] = []
            given = {n: i for i, n in enumerate(self.names)}
            defaults = comp.construct_params(_check=False)
            processors = comp._bind_processors
            for name in order:
                if name in given:
                    index.append(given[name])
                    continue
                value = defaults[name]  # a constant of the statement
                proc = processors.get(name)
                consts.append(proc(value) if proc is not None else value)
                index.append(len(self.names) + len(consts) - 1)
            getter = itemgetter(*index) if len(index) > 1 else (
                lambda row, i=index[0]: (row[i],))
            got = (comp.string, getter, tuple(consts))
            self._by_db[db] = got
        return got

    async def run(self, db: Database, c: Conn, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        sql, getter, consts = self.compiled(db)
        if consts:
            params = [getter(r + consts) for r in rows]
        else:
            params = [getter(r) for r in rows]
        if isinstance(c, InlineConnection):  # SQLite: on the stdlib cursor (prepared.py)
            c.on_driver(sql, params, many=True)
            return
        adapted = pg_driver.adapter(c)
        if adapted is None or adapted.autocommit:
            await c.exec_driver_sql(sql, params)
            return
        await pg_driver.begun(c, adapted)  # PostgreSQL: asyncpg's own executemany
        try:
            await adapted.driver_connection.executemany(sql, params)
        except Exception as exc:
            raise await pg_driver.translated(c, adapted, exc, sql, params) from exc
