"""Engines and the dialect differences, kept in this one module.

SQLite: WAL, ``synchronous=NORMAL``, a busy timeout, and two engines: readers run in
autocommit (each SELECT sees its own consistent snapshot, no BEGIN/COMMIT), writers use
``BEGIN IMMEDIATE`` through a single connection behind an asyncio lock, so writes queue inside
the process instead of spinning on SQLite's lock. Storage methods that need several consistent
reads use ``write()``. PostgreSQL: one asyncpg engine for both.

SQLite statements run inline, on the event loop's own thread, through SQLAlchemy's sync
engine on the stdlib driver (``sqlite_inline.py``): a statement on a local file costs
tens of microseconds, while a hand-off to a driver thread (aiosqlite) costs more than the
statement itself, twice (there and back), plus a greenlet switch. Storage code is the same for
both databases: it awaits ``execute`` on what ``read()`` and ``write()`` yield.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    ARRAY,
    Engine,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool

from ..domain.errors import Conflict, InvalidInput
from . import pg_kept, sqlite_inline
from .db_errors import driver_failure, instead_of_write_error, storage_failure
from .sqlite_inline import InlineConnection

if TYPE_CHECKING:  # imported when a PostgreSQL URL is used: it pulls in the ORM (~8 MB)
    from sqlalchemy.ext.asyncio import AsyncEngine

SQLITE_BUSY_TIMEOUT_MS = sqlite_inline.BUSY_TIMEOUT_MS
AMONG_INLINE = 8  # up to this many values, a plain IN list
MANUAL_BEGIN = sqlite_inline.MANUAL_BEGIN


class Conn(Protocol):
    """What ``read()`` and ``write()`` yield: SQLAlchemy's ``AsyncConnection`` on PostgreSQL,
    ``sqlite_inline.InlineConnection`` on SQLite."""

    async def execute(self, statement: Any, parameters: Any = None) -> Any: ...

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Any: ...


def normalise_url(url: str) -> str:
    """Map user-facing URLs to drivers: sqlite:// -> the stdlib's sqlite3 (run inline),
    postgresql:// -> asyncpg."""
    try:
        u = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse text
        raise InvalidInput(f"database URL: cannot parse {url!r}") from exc
    backend = u.get_backend_name()
    if backend == "sqlite":
        return str(u.set(drivername="sqlite+pysqlite"))
    if backend in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise InvalidInput(f"database URL: unsupported scheme {u.drivername!r} (sqlite or postgresql)")


MEMORY = ":memory:"


def sqlite_database(url: str) -> str | None:
    """The database a SQLite URL names: its file path, or ``MEMORY`` for an in-memory one;
    None for PostgreSQL. The rest of the server asks this (the file lock of ``schedo serve``,
    the sealing key beside the file) instead of reading the URL's scheme itself."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    return u.database if u.database and u.database != MEMORY else MEMORY


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The plain libpq URL asyncpg connects with (the LISTEN/NOTIFY bridge, the clock)."""
    u = make_url(sqlalchemy_url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def driver_dialect(conn: Any) -> Any:
    """The dialect a ``read()``/``write()`` connection runs (prepared.py compiles for it)."""
    return conn.sync_connection.dialect


def on_asyncpg(conn: Any) -> bool:
    """Whether a ``read()``/``write()`` connection is PostgreSQL's (asyncpg under SQLAlchemy's
    adapter): prepared.py and driver_many.py then run statements on asyncpg itself
    (pg_driver.py)."""
    sync = getattr(conn, "sync_connection", None)
    return sync is not None and sync.dialect.driver == "asyncpg"


# PostgreSQL advisory lock held shared by every serving process (pgbridge) and taken
# exclusively by offline commands that must not run beside a server (reset-signature-keys)
SERVING_LOCK_ID = 0x5C4ED1

class Database:
    """Owns the engines; ``read()`` and ``write()`` yield a connection inside a transaction."""

    read_engine: Engine | AsyncEngine
    write_engine: Engine | AsyncEngine

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.write_failure: str | None = None
        self.url = normalise_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        self._write_lock = asyncio.Lock()
        self._reader: InlineConnection | None = None
        self._reader_free = True
        self._writer = sqlite_inline.KeptWriter()  # SQLite (``write()``)
        # PostgreSQL: connections kept between reads (pg_kept.py)
        self._pg_readers = pg_kept.KeptConnections(keep=pool_size // 2)
        if self.dialect == "sqlite":
            path = make_url(self.url).database
            if not path or path == ":memory:":  # one connection, or each would be its own db
                self.read_engine = self.write_engine = sqlite_inline.engine(
                    self.url, "BEGIN IMMEDIATE", poolclass=StaticPool)
            else:
                # readers: autocommit (isolation_level None, set on connect), so the rollback
                # the pool would send on return is skipped; more readers than the pool holds
                # open overflow connections instead of waiting (a wait would block the loop)
                self.read_engine = sqlite_inline.engine(
                    self.url, None, pool_size=pool_size, max_overflow=-1,
                    skip_autocommit_rollback=True)
                self.write_engine = sqlite_inline.engine(
                    self.url, "BEGIN IMMEDIATE", pool_size=1, max_overflow=0)
        else:
            from sqlalchemy.ext.asyncio import create_async_engine

            from .schema_types import with_postgresql_options

            with_postgresql_options()  # the partial indexes' conditions (schema_types.py)

            # every connection kept (2 x pool_size, as docs/operations.md counts them): an
            # overflow connection would be closed at its return and opened again by the next
            # request (657 new sessions in 9 s of 64 concurrent GET /jobs/{id}, bench api)
            self.write_engine = create_async_engine(
                self.url, pool_size=2 * pool_size, max_overflow=0, pool_recycle=300
            )
            # reads in autocommit: one round trip per statement instead of BEGIN/…/COMMIT
            self.read_engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def shared_dsn(self) -> str | None:
        """When several server processes may serve this database (PostgreSQL), the plain URL
        the wake-up bridge and the database clock connect with; None on SQLite (one process
        per file: the in-process bus and the system clock suffice)."""
        return None if self.is_sqlite else asyncpg_dsn(self.url)

    # Driver errors leave read() and write() as ``Unavailable`` (the API answers 503 and
    # Retry-After, the dashboard its error page), except IntegrityError, which becomes
    # Collision (409): storage methods catch it around a write() where a retry makes sense
    # (a concurrent insert of the same key: try again).

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        """A connection in autocommit: every statement sees its own committed snapshot.
        Nothing is committed or rolled back at the end (reads only). Unavailable as above."""
        try:
            engine = self.read_engine
            if not isinstance(engine, Engine):  # PostgreSQL's AsyncEngine
                async with self._pg_readers.reader(engine) as conn:
                    yield conn
            elif engine is self.write_engine:  # in-memory: the one connection, as a writer
                async with self.write() as conn:
                    yield conn
            elif self._reader_free:
                # the kept reader: a block of inline statements never yields to the loop, so
                # one connection serves every read; a block that does (awaiting something
                # else) makes the next reader take one of the pool's
                self._reader_free = False
                try:
                    if self._reader is None:
                        self._reader = InlineConnection(engine.connect())
                    yield self._reader
                except BaseException:
                    self._drop_reader()  # whatever the error left, the next read starts anew
                    raise
                finally:
                    self._reader_free = True
            else:
                with engine.connect() as sync_conn:
                    yield InlineConnection(sync_conn)
        except IntegrityError:
            raise
        except (DBAPIError, OverflowError) as exc:
            raise driver_failure(exc) from exc

    def one_statement(self) -> AbstractAsyncContextManager[Conn]:
        """PostgreSQL: autocommit for one statement that writes, a transaction of its own (no
        BEGIN, no COMMIT), run as ``Prepared(..., writes=True)``. Errors as ``write()``."""
        return self._writing(self._pg_readers.reader(self.read_engine))

    def write(self) -> AbstractAsyncContextManager[Conn]:
        """A write transaction. A failure of the storage itself (disk full, read-only file,
        I/O error) is remembered in ``write_failure`` until a later write commits.
        Unavailable as above, Collision for an IntegrityError
        (``db_errors.instead_of_write_error``)."""
        return self._writing(self._transaction())

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        engine = self.write_engine
        if not isinstance(engine, Engine):  # PostgreSQL's AsyncEngine
            async with engine.begin() as conn:
                yield conn
            return
        # inline statements never yield, so a loop of writes (the ticker's batches, the
        # reaper's) would hold the loop to its end: every write lets the others that are
        # ready go first (a woken long poll claims the runs of the first batch while the
        # ticker makes the next)
        await asyncio.sleep(0)
        # one writer at a time, queued on the loop (the pool of one would block it)
        async with self._write_lock:
            with self._writer.transaction(engine) as conn:
                yield conn

    @asynccontextmanager
    async def _writing(self, conns: AbstractAsyncContextManager[Conn]) -> AsyncIterator[Conn]:
        try:
            async with conns as conn:
                yield conn
        except BaseException as exc:
            self.write_failure = storage_failure(exc) or self.write_failure
            other = instead_of_write_error(exc)
            if other is None:
                raise
            raise other from exc
        self.write_failure = None

    def compiled(self, stmt: Any) -> Any:
        """``stmt`` compiled for this database's dialect (``driver_many.py`` sends its SQL to
        the driver as it is)."""
        return stmt.compile(dialect=self.write_engine.dialect)

    def insert(self, table: Any) -> Any:
        """A dialect insert that supports ``on_conflict_do_nothing``."""
        if self.is_sqlite:
            return sqlite.insert(table)
        from sqlalchemy.dialects import postgresql  # not loaded on SQLite (issue 18, RSS)

        return postgresql.insert(table)

    def among(self, column: Any, values: Sequence[Any]) -> Any:
        """``column IN values`` with one bound parameter however many values there are (a
        worker names up to 5,000 job codes): the statement's text, and so its compiled form
        and the driver's prepared statement, stay the same from call to call. SQLite reads a
        JSON array with ``json_each``; PostgreSQL gets an array (``= ANY``)."""
        values = list(values)
        if len(values) <= AMONG_INLINE:
            return column.in_(values)
        if self.is_sqlite:
            listed: Any = select(literal_column("value")).select_from(
                func.json_each(bindparam(None, json.dumps(values), type_=String())))
            return column.in_(listed)
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))

    def among_bound(self, column: Any, name: str) -> Any:
        """``column IN :name`` as ``among`` words it for many values, the values one bound
        parameter named ``name`` (``among_value`` gives its value): for statements built
        once (``storage/claim_sql.py``)."""
        if self.is_sqlite:
            listed: Any = select(literal_column("value")).select_from(
                func.json_each(bindparam(name, type_=String())))
            return column.in_(listed)
        return column == any_(bindparam(name, type_=ARRAY(column.type)))

    def among_value(self, values: Sequence[Any]) -> Any:
        """The value of ``among_bound``'s parameter: a JSON array on SQLite, a list (an
        array) on PostgreSQL."""
        return json.dumps(list(values)) if self.is_sqlite else list(values)

    @property
    def claims_alone(self) -> bool:
        """A claim and its job mirror are one statement in ``one_statement()`` (PostgreSQL)."""
        return not self.is_sqlite

    @property
    def windows_claims(self) -> bool:
        """Whether a claim naming many codes looks first among the earliest pending runs
        (``claim_sql.window_statement``): on SQLite, whose planner has no statistics and
        would probe the codes' index once per code; PostgreSQL's planner chooses itself."""
        return self.is_sqlite

    def not_indexed(self, column: Any) -> Any:
        """``column`` in a condition that must not choose the index (SQLite's planner, without
        statistics, would walk ``(job_type, due_at)`` for a claim of a few job codes in due
        order, reading every pending run due earlier, instead of the index on the codes):
        ``column || ''`` on SQLite, the column itself on PostgreSQL (its planner has
        statistics)."""
        return column.op("||")("") if self.is_sqlite else column

    def picked(self, stmt: Any) -> Any:
        """The ids a ``skip_locked`` SELECT … LIMIT n picks, for ``id IN (…)`` of an UPDATE.
        On PostgreSQL the pick is a MATERIALIZED CTE, evaluated once: as a plain subquery the
        planner may re-run it per row (a semi join), each run skipping the rows already
        locked by this very statement, so LIMIT n would claim every due row."""
        if self.is_sqlite:
            return stmt.scalar_subquery()
        cte = stmt.cte("picked").prefix_with("MATERIALIZED")
        return select(*cte.c)

    def skip_locked(self, stmt: Any) -> Any:
        """Row locks for claim-style selects: SKIP LOCKED on PostgreSQL; SQLite serialises
        writers already (BEGIN IMMEDIATE)."""
        return stmt if self.is_sqlite else stmt.with_for_update(skip_locked=True)

    async def sequences_past_explicit_ids(
        self, conn: Conn, tables: tuple[str, ...]
    ) -> None:
        """After rows were inserted with explicit ids: on PostgreSQL, move each table's id
        sequence past them (explicit ids do not advance it); SQLite's AUTOINCREMENT follows by
        itself."""
        if self.is_sqlite:
            return
        for t in tables:
            await conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"
            )

    def top_per(self, parent: Any, child: Any, pick: Any) -> tuple[Any, Any]:
        """``parent`` joined to the rows of ``child`` that ``pick`` chooses per parent row: a
        SELECT, on an alias of ``child``, of columns named as ``child``'s (``id`` among them),
        correlated to ``parent``, with ORDER BY and LIMIT. A top-N per parent through the
        index the pick orders by, whatever the child table's size. PostgreSQL: ``CROSS JOIN
        LATERAL``. SQLite (no LATERAL): ``child`` joined on ``child.id IN (the pick's ids)``,
        a correlated subquery run once per parent row. Returns the FROM clause and what to
        select the columns from (``.c``)."""
        if self.is_sqlite:
            ids = pick.with_only_columns(pick.selected_columns["id"]).correlate(parent)
            return parent.join(child, child.c.id.in_(ids)), child
        lateral = pick.correlate(parent).lateral("top")
        return parent.join(lateral, true()), lateral

    def for_update(self, stmt: Any) -> Any:
        """Row locks for a read-then-write check (FOR UPDATE on PostgreSQL; SQLite's
        BEGIN IMMEDIATE serialises writers already)."""
        return stmt if self.is_sqlite else stmt.with_for_update()

    async def refuse_while_serving(self, conn: Conn) -> None:
        """In a write transaction of an offline command: on PostgreSQL, Conflict while a
        server process holds the shared serving lock (SQLite commands hold the file lock)."""
        if self.is_sqlite:
            return
        got = await conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({SERVING_LOCK_ID})")
        if not got.scalar():
            raise Conflict("a schedo server is serving this database: stop every server "
                           "process, then run this again")

    def _drop_reader(self) -> None:
        kept, self._reader = self._reader, None
        if kept is not None:
            kept.sync_connection.close()

    def checked_out(self) -> int:
        """Connections taken from the pools and not given back, the kept reader aside."""
        total = 0
        # one pool each on SQLite; PostgreSQL's read engine shares the writer's
        pools = {id(e.pool): e.pool for e in (self.read_engine, self.write_engine)}
        for pool in pools.values():
            total += pool.checkedout()  # type: ignore[attr-defined]
        return (total - (self._reader is not None and self._reader_free)
                - self._writer.idle - len(self._pg_readers.idle))

    async def dispose(self) -> None:
        self._drop_reader()
        await self._pg_readers.close()
        self._writer.close()
        engines = [self.write_engine]
        if self.is_sqlite and self.read_engine is not self.write_engine:
            engines.append(self.read_engine)  # on PostgreSQL it shares the writer's pool
        for engine in engines:
            if isinstance(engine, Engine):
                engine.dispose()
            else:
                await engine.dispose()
