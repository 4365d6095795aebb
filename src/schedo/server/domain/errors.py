"""Errors raised below the API; the API maps each to one HTTP status (api/errors.py)."""

from __future__ import annotations


class SchedoError(Exception):
    """Base class; ``str(e)`` is a message fit for the user."""


class InvalidInput(SchedoError):
    """400: malformed or invalid input (the message names the field)."""


class TooLarge(InvalidInput):
    """413: a value over its size limit, or a request over a count limit (the message names
    the field and the limit)."""


class Unauthorized(SchedoError):
    """401: missing, unknown or revoked key."""


class Forbidden(SchedoError):
    """403: the key lacks the right."""


class NotFound(SchedoError):
    """404: unknown id, or an id of another organisation or environment."""


class Conflict(SchedoError):
    """409: state conflict (e.g. completing an execution that already ended differently)."""


class Collision(Conflict):
    """409: a concurrent write took the same unique key (storage raises it in place of the
    driver's integrity error; storage methods retry it where a retry makes sense, so callers
    see it only when the retries were used up)."""


class Unavailable(SchedoError):
    """503: the database cannot serve the call right now (gone, restarting, refusing).

    Storage raises it in place of the driver's error (``storage/db.py``, chained to it), so no
    layer above storage needs to know the driver. ``str(e)`` is the driver's first line;
    ``error`` and ``driver_error`` name the error classes (for logs and ``/readyz``)."""

    def __init__(self, message: str, *, error: str = "", driver_error: str = "") -> None:
        super().__init__(message)
        self.error = error or type(self).__name__
        self.driver_error = driver_error or self.error


class UnreadableRow(SchedoError):
    """A stored row this version cannot read (a value no version writes: a bug of an older
    version, a hand edit). Carries the row's table and id, so a loop can set that row aside
    (``scheduler/setaside.py``) rather than fail on it forever; chained to the decoding
    error."""

    def __init__(self, table: str, row_id: int, cause: BaseException) -> None:
        super().__init__(f"{table} row {row_id} cannot be read: {type(cause).__name__}: {cause}")
        self.table, self.row_id = table, row_id
