"""Hot reads as driver statements compiled once (SQLite).

Contract:
- ``Prepared(stmt)`` wraps a Core statement built once at import (bound parameters by name,
  no expanding ``IN`` lists, no literal-execute parameters). ``await p.first(c, params)``
  and ``await p.all(c, params)`` answer what ``(await c.execute(stmt, params)).first()`` /
  ``.all()`` would: rows whose values went through the same result processors (the same
  Python values: datetimes of ``EpochMs``, booleans, JSON), read by attribute and by
  ``row._mapping[name]``; parameters go through the same bind processors, unnamed literal
  parameters keep their value.
- On SQLite (an ``InlineConnection``) the statement's text is compiled once per dialect and
  run on the stdlib cursor under the connection: SQLAlchemy's per-statement execution
  context (cache key, compiled-cache lookup, parameter processing, result metadata: about
  half the CPU of a one-row read) is skipped. A driver error is raised as SQLAlchemy's own
  ``DBAPIError`` subclass, so ``Database.read()``/``write()`` treat it as before.
- On PostgreSQL the text compiled once for the asyncpg dialect (``elsewhere``, when given:
  e.g. the same read ``FOR UPDATE``) runs with ``fetch`` on the asyncpg connection under
  SQLAlchemy's adapter (``pg_driver.py``), skipping the execution context and the greenlet
  hop. In autocommit (``Database.read()``) a statement the driver refused runs again through
  SQLAlchemy, which translates the error and invalidates a lost connection as always (a
  read: running it twice changes nothing); a statement that writes (``writes=True``, run
  in ``Database.one_statement()``) is never run twice: its driver error is raised as inside
  a transaction. Inside a write transaction the adapter's
  transaction is begun first if no statement began it yet, and a driver error is raised
  as SQLAlchemy would raise it (``pg_driver.translated``): a transaction cannot run a
  statement twice.

Why our own: SQLAlchemy has no public "run this compiled statement without an execution
context"; the per-request key lookup and the job read are most of a GET's database CPU.
Rows are read by attribute or ``_mapping`` only: ``first`` reads every row of the statement
(each here has at most one).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from sqlalchemy.engine import Dialect

from . import pg_driver
from .db import driver_dialect
from .sqlite_inline import InlineConnection


def _row_class(names: list[str]) -> type[tuple[Any, ...]]:
    """A tuple with each column by attribute (as SQLAlchemy's ``Row``) and ``_mapping``."""
    ns: dict[str, Any] = {"__slots__": (), "_fields": tuple(names)}
    for i, name in enumerate(names):
        ns[name] = property(itemgetter(i))
    ns["_mapping"] = property(lambda self: dict(zip(self._fields, self, strict=True)))
    return type("PreparedRow", (tuple,), ns)


class _Form:
    """The statement compiled for one dialect: its text, its parameters in order, its
    columns' result processors and row class."""

    __slots__ = ("params", "procs", "row", "sql")

    def __init__(self, stmt: Any, dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("Prepared: expanding or literal-execute parameters")
        self.sql: str = compiled.string
        by_name = {name: bp for bp, name in compiled.bind_names.items()}
        processors = compiled._bind_processors
        # (name, whether the caller must give it, its literal value, its bind processor)
        self.params: list[tuple[str, bool, Any, Any]] = []
        for name in compiled.positiontup or ():
            bp = by_name[name]
            self.params.append(
                (name, bp.required or bp.value is None, bp.value, processors.get(name)))
        columns = compiled._result_columns
        self.procs: list[tuple[int, Any]] = []
        for i, col in enumerate(columns):
            proc = col.type._cached_result_processor(dialect, None)
            if proc is not None:
                self.procs.append((i, proc))
        self.row = _row_class([col.keyname for col in columns])

    def args(self, params: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for name, needed, value, proc in self.params:
            v = params[name] if needed or name in params else value
            out.append(v if proc is None or v is None else proc(v))
        return out

    def rows(self, found: list[Any]) -> list[Any]:
        procs, make = self.procs, self.row
        if not procs:
            return [make(r) for r in found]
        out = []
        for r in found:
            vals = list(r)
            for i, proc in procs:
                vals[i] = proc(vals[i])
            out.append(make(vals))
        return out

    def run(self, conn: InlineConnection, params: dict[str, Any]) -> list[Any]:
        return self.rows(conn.on_driver(self.sql, self.args(params)).fetchall())

    async def run_asyncpg(self, adapted: Any, params: dict[str, Any]) -> list[Any] | None:
        """On the asyncpg connection under SQLAlchemy's adapter (``adapted``), in
        autocommit. None when the driver raised: the caller runs the statement again
        through SQLAlchemy, which translates the error and invalidates a lost connection
        as it always does (a read only: running it twice changes nothing)."""
        try:
            found = await adapted.driver_connection.fetch(self.sql, *self.args(params))
        except Exception:
            return None
        return self.rows(found)

    async def run_in_transaction(self, c: Any, adapted: Any, params: dict[str, Any]
                                 ) -> list[Any]:
        """On the asyncpg connection inside ``c``'s write transaction (begun already), or
        in autocommit as a transaction of its own; a driver error raised as SQLAlchemy's."""
        args = self.args(params)
        try:
            found = await adapted.driver_connection.fetch(self.sql, *args)
        except Exception as exc:
            raise await pg_driver.translated(c, adapted, exc, self.sql, args) from exc
        return self.rows(found)


class Prepared:
    """A Core statement run as a pre-compiled driver statement on SQLite (module doc)."""

    __slots__ = ("_form", "_pg_form", "elsewhere", "stmt", "writes")

    def __init__(self, stmt: Any, elsewhere: Any = None, writes: bool = False) -> None:
        self.stmt = stmt
        self.elsewhere = stmt if elsewhere is None else elsewhere
        self.writes = writes
        self._form: _Form | None = None
        self._pg_form: _Form | None = None

    def _sqlite(self, conn: InlineConnection) -> _Form:
        form = self._form
        if form is None:  # every SQLite engine has the same (pysqlite, qmark) dialect
            form = self._form = _Form(self.stmt, driver_dialect(conn))
        return form

    def _pg(self, c: Any) -> _Form:
        form = self._pg_form
        if form is None:
            form = self._pg_form = _Form(self.elsewhere, driver_dialect(c))
        return form

    async def all(self, c: Any, params: dict[str, Any]) -> list[Any]:
        if isinstance(c, InlineConnection):
            return self._sqlite(c).run(c, params)
        adapted = pg_driver.adapter(c)
        if adapted is not None:
            if adapted.autocommit and self.writes:  # its own transaction: never twice
                return await self._pg(c).run_in_transaction(c, adapted, params)
            if adapted.autocommit:
                found = await self._pg(c).run_asyncpg(adapted, params)
                if found is not None:
                    return found
            else:
                await pg_driver.begun(c, adapted)
                return await self._pg(c).run_in_transaction(c, adapted, params)
        return list((await c.execute(self.elsewhere, params)).all())

    async def first(self, c: Any, params: dict[str, Any]) -> Any | None:
        found = await self.all(c, params)
        return found[0] if found else None
