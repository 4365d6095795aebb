"""What an error of the database driver means for Schedo (split from db.py for size): the
storage cannot take writes (``storage_failure``: a full disk, a read-only file), a value the
driver refused (``data_problem``: 400, the API should have refused it), or the database is
away (``unavailable``: 503). Read from the error and everything it wraps, on both drivers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from ..domain.errors import Collision, InvalidInput, SchedoError, Unavailable

log = logging.getLogger("schedo.storage")

# SQLite result codes (sqlite3.Error.sqlite_errorname) and PostgreSQL SQLSTATE classes that
# mean the storage cannot take writes, as opposed to a refused statement
_SQLITE_STORAGE = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")
_PG_STORAGE = ("53", "58", "25006")  # resources (53100 disk full), system errors, read-only


def _wrapped(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every error it wraps (the driver's ``orig``, causes, contexts), once each."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]


def storage_failure(exc: BaseException) -> str | None:
    """A short reason if ``exc`` (or what it wraps) says the database cannot be written."""
    for e in _wrapped(exc):
        name = getattr(e, "sqlite_errorname", None)
        if isinstance(name, str) and name.startswith(_SQLITE_STORAGE):
            return f"{name}: {e}"
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_PG_STORAGE):
            return f"SQLSTATE {state}: {e}"
    return None


def unavailable(exc: DBAPIError) -> Unavailable:
    """The domain error for a driver error: the database cannot serve the call now. Its
    message is the driver's own text (what ``schedo serve`` prints when it cannot start)."""
    orig = exc.orig if exc.orig is not None else exc
    text = str(orig).strip()
    return Unavailable(text or type(exc).__name__, error=type(exc).__name__,
                       driver_error=_named(exc, type(orig).__name__))


def _named(exc: BaseException, default: str) -> str:
    """The driver's own error class and code, for the log line of a 503 (the adapter's class
    alone, ``Error``, said nothing): e.g. ``DeadlockDetectedError (SQLSTATE 40P01)``."""
    for e in _wrapped(exc):
        state = getattr(e, "sqlstate", None) or getattr(e, "sqlite_errorname", None)
        if isinstance(state, str) and state:
            code = f"SQLSTATE {state}" if getattr(e, "sqlstate", None) else state
            return f"{type(e).__name__} ({code})"
    return default


def data_problem(exc: BaseException) -> str | None:
    """The driver's text if ``exc`` (or what it wraps) refused a *value*, not the database
    being away: a DB-API DataError, a PostgreSQL data exception (SQLSTATE class 22: an int4
    overflow, a NUL in text), an int SQLite cannot bind (OverflowError)."""
    for e in _wrapped(exc):
        state = getattr(e, "sqlstate", None)
        if (isinstance(e, (DataError, OverflowError))
                or (isinstance(state, str) and state.startswith("22"))):
            return str(getattr(e, "orig", None) or e).strip().splitlines()[0][:200]
    return None


def driver_failure(exc: BaseException) -> SchedoError:
    """The domain error for an error of the driver: 400 for a value it refused (validation
    at the door missed it: logged so it gets fixed, never a 503 that blames the database),
    else 503 ``Unavailable``."""
    problem = data_problem(exc)
    if problem is not None:
        log.warning("storage.data_error %s (a value the API should have refused)", problem)
        return InvalidInput("a value of this request is out of range or holds characters "
                            "the database cannot store")
    assert isinstance(exc, DBAPIError)
    return unavailable(exc)


# PostgreSQL gave up this transaction for a concurrent one: a deadlock, a serialization
# failure. Nothing was written; the same call again sees what the other one wrote.
_GAVE_WAY = ("40P01", "40001")


def instead_of_write_error(exc: BaseException) -> BaseException | None:
    """What a failed write raises instead of ``exc`` (None: ``exc`` itself): Collision for an
    IntegrityError (a concurrent insert of the same key) or a deadlock (the caller may try
    again: storage methods retry where that makes sense), Unavailable for another driver
    error (``driver_failure``)."""
    if isinstance(exc, IntegrityError):
        return Collision("a concurrent write took the same key; try again")
    if any(getattr(e, "sqlstate", None) in _GAVE_WAY for e in _wrapped(exc)):
        return Collision("a concurrent write on the same rows got in the way; try again")
    if isinstance(exc, (DBAPIError, OverflowError)):
        return driver_failure(exc)
    return None
