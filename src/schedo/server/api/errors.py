"""Every error leaves the API as ``{"message": "..."}`` with the status of SPEC section 2.

Body validation: malformed JSON and invalid values are 400; well-formed JSON of the wrong
shape (missing field, wrong type, not an object) is 422. Bad path, query and header values
are 400.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    SchedoError,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from . import models

log = logging.getLogger("schedo.api")

STATUS: dict[type[SchedoError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
}
SHAPE_TYPES = {
    "missing",
    "model_type",
    "model_attributes_type",
    "dict_type",
    "list_type",
    "is_instance_of",
}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body",) else [str(p) for p in loc]
    if loc and loc[0] in ("path", "query", "header"):
        parts = [str(p) for p in loc[1:]]
    return ".".join(parts) or "body"


def _unknown_fields(errors: list[dict[str, Any]]) -> str | None:
    """"unknown field 'max_retires' (did you mean 'max_retries'?)" for every field the
    body's model does not know, or None."""
    extra = [e for e in errors if e.get("type") == "extra_forbidden"]
    if not extra:
        return None
    notes = []
    for e in extra:
        loc = tuple(e.get("loc", ()))
        name = str(loc[-1]) if loc else "?"
        where = ".".join(str(p) for p in loc[1:-1])
        known = [str(k) for k in (e.get("ctx") or {}).get("known", [])]
        guess = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        notes.append(f"{where + '.' if where else ''}{name!r}{hint}")
    return f"unknown field{'s' if len(notes) > 1 else ''} " + ", ".join(notes)


def classify(errors: list[dict[str, Any]], known: list[str] | None = None) -> tuple[int, str]:
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "body: malformed JSON"
    if known is not None:
        for e in errors:
            if e.get("type") == "extra_forbidden":
                e["ctx"] = {**(e.get("ctx") or {}), "known": known}
    unknown = _unknown_fields(errors)
    if unknown is not None:
        return 400, f"body: {unknown}"
    if loc and loc[0] in ("path", "query", "header"):
        return 400, f"{_where(loc)}: {first.get('msg', 'invalid value')}"
    status = (
        422
        if any(
            e.get("type") in SHAPE_TYPES or str(e.get("type", "")).endswith("_type") for e in errors
        )
        else 400
    )
    return status, f"{_where(loc)}: {first.get('msg', 'invalid value')}"


def install(app: FastAPI) -> None:
    @app.exception_handler(SchedoError)
    async def _domain(_r: Request, exc: SchedoError) -> JSONResponse:
        return error(STATUS.get(type(exc), 400), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_r: Request, exc: RequestValidationError) -> JSONResponse:
        status, msg = classify(list(exc.errors()), models.KNOWN_FIELDS)
        return error(status, msg)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Unavailable)
    async def _database(r: Request, exc: Unavailable) -> JSONResponse:
        # The database went away (restart, failover): the pool drops the dead connection and
        # the next request reconnects. Tell the client to retry rather than a bare 500.
        log.warning("database error on %s %s: %s", r.method, r.url.path, exc.driver_error)
        return error(503, "database unavailable, retry shortly", {"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(r: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", r.method, r.url.path, exc_info=exc)
        return error(500, "internal server error")
