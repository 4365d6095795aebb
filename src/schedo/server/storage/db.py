"""Engines and the dialect differences, kept in this one module.

SQLite: WAL, ``synchronous=NORMAL``, a busy timeout, and two engines: readers run in
autocommit (each SELECT sees its own consistent snapshot; no BEGIN/COMMIT round trips through
aiosqlite's thread), writers use ``BEGIN IMMEDIATE`` through a single pooled connection, so
writes queue inside the process instead of spinning on SQLite's lock. Storage methods that need
several consistent reads use ``write()``. PostgreSQL: one asyncpg
engine for both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..domain.errors import Collision, Conflict, InvalidInput, Unavailable
from . import onehop

SQLITE_BUSY_TIMEOUT_MS = 10_000
# execution option: this connection sends its own BEGIN/COMMIT (no automatic BEGIN IMMEDIATE)
MANUAL_BEGIN = "schedo_manual_begin"


def normalise_url(url: str) -> str:
    """Map user-facing URLs to async drivers: sqlite:// -> aiosqlite, postgresql:// -> asyncpg."""
    try:
        u = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse text
        raise InvalidInput(f"database URL: cannot parse {url!r}") from exc
    backend = u.get_backend_name()
    if backend == "sqlite":
        return str(u.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise InvalidInput(f"database URL: unsupported scheme {u.drivername!r} (sqlite or postgresql)")


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The plain libpq URL asyncpg connects with (the LISTEN/NOTIFY bridge, the clock)."""
    u = make_url(sqlalchemy_url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def _sqlite_listeners(engine: AsyncEngine, begin: str | None) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (pysqlite defers it)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    if begin is None:  # autocommit: each read statement is its own snapshot, no round trips
        return

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        if conn.get_execution_options().get(MANUAL_BEGIN):
            return  # the caller sends BEGIN/COMMIT itself (storage.migrate)
        conn.exec_driver_sql(begin)


# SQLite result codes (sqlite3.Error.sqlite_errorname) and PostgreSQL SQLSTATE classes that
# mean the storage cannot take writes, as opposed to a refused statement
_SQLITE_STORAGE = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")
_PG_STORAGE = ("53", "58", "25006")  # resources (53100 disk full), system errors, read-only


def storage_failure(exc: BaseException) -> str | None:
    """A short reason if ``exc`` (or what it wraps) says the database cannot be written."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        name = getattr(e, "sqlite_errorname", None)
        if isinstance(name, str) and name.startswith(_SQLITE_STORAGE):
            return f"{name}: {e}"
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_PG_STORAGE):
            return f"SQLSTATE {state}: {e}"
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return None


def unavailable(exc: DBAPIError) -> Unavailable:
    """The domain error for a driver error: the database cannot serve the call now. Its
    message is the driver's own text (what ``schedo serve`` prints when it cannot start)."""
    orig = exc.orig if exc.orig is not None else exc
    text = str(orig).strip()
    return Unavailable(text or type(exc).__name__, error=type(exc).__name__,
                       driver_error=type(orig).__name__)


def _one_hop_creator(url: str) -> dict[str, Any]:
    """``async_creator`` for file databases: one thread hop per statement (storage/onehop.py).
    In-memory URLs keep the dialect's own connect (their pool shares one connection)."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return {}
    return {"async_creator": lambda: onehop.connect(path)}


# PostgreSQL advisory lock held shared by every serving process (pgbridge) and taken
# exclusively by offline commands that must not run beside a server (reset-signature-keys)
SERVING_LOCK_ID = 0x5C4ED1

class Database:
    """Owns the engines; ``read()`` and ``write()`` yield a connection inside a transaction."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.write_failure: str | None = None
        self.url = normalise_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            fast = _one_hop_creator(self.url)
            # readers: autocommit (isolation_level None, set on connect), so the rollback the
            # pool and Connection.close() would send is skipped (no thread hop per query)
            self.read_engine = create_async_engine(
                self.url, pool_size=pool_size, skip_autocommit_rollback=True, **fast
            )
            self.write_engine = create_async_engine(
                self.url, pool_size=1, max_overflow=0, pool_timeout=60, **fast
            )
            _sqlite_listeners(self.read_engine, None)
            _sqlite_listeners(self.write_engine, "BEGIN IMMEDIATE")
        else:
            self.write_engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=300
            )
            # reads in autocommit: one round trip per statement instead of BEGIN/…/COMMIT
            self.read_engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    # Driver errors leave read() and write() as ``Unavailable`` (the API answers 503 and
    # Retry-After, the dashboard its error page), except IntegrityError, which becomes
    # Collision (409): storage methods catch it around a write() where a retry makes sense
    # (a concurrent insert of the same key: try again).

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection in autocommit: every statement sees its own committed snapshot.
        Nothing is committed or rolled back at the end (reads only). Unavailable as above."""
        try:
            async with self.read_engine.connect() as conn:
                yield conn
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise unavailable(exc) from exc

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction. A failure of the storage itself (disk full, read-only file,
        I/O error) is remembered in ``write_failure`` until a later write commits.
        Unavailable as above."""
        try:
            async with self.write_engine.begin() as conn:
                yield conn
        except BaseException as exc:
            reason = storage_failure(exc)
            if reason is not None:
                self.write_failure = reason
            if isinstance(exc, IntegrityError):
                raise Collision("a concurrent write took the same key; try again") from exc
            if isinstance(exc, DBAPIError):
                raise unavailable(exc) from exc
            raise
        self.write_failure = None

    def insert(self, table: Any) -> Any:
        """A dialect insert that supports ``on_conflict_do_nothing``."""
        return sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)

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
        self, conn: AsyncConnection, tables: tuple[str, ...]
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

    def for_update(self, stmt: Any) -> Any:
        """Row locks for a read-then-write check (FOR UPDATE on PostgreSQL; SQLite's
        BEGIN IMMEDIATE serialises writers already)."""
        return stmt if self.is_sqlite else stmt.with_for_update()

    async def refuse_while_serving(self, conn: AsyncConnection) -> None:
        """In a write transaction of an offline command: on PostgreSQL, Conflict while a
        server process holds the shared serving lock (SQLite commands hold the file lock)."""
        if self.is_sqlite:
            return
        got = await conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({SERVING_LOCK_ID})")
        if not got.scalar():
            raise Conflict("a schedo server is serving this database: stop every server "
                           "process, then run this again")

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.is_sqlite:
            await self.read_engine.dispose()
