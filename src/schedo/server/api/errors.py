"""Every error leaves the API as ``{"message": "..."}`` with the status of SPEC section 2.

Body validation: malformed JSON and invalid values are 400; well-formed JSON of the wrong
shape (missing field, wrong type, not an object) is 422. Bad path, query and header values
are 400.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any, get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
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
from .route_walk import routes_of

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


def fixed_path_methods(app: Any) -> dict[str, frozenset[str]]:
    """The methods of each route path without parameters (``/jobs/definition``: POST),
    collected once per app."""
    got: dict[str, frozenset[str]] | None = getattr(app.state, "fixed_path_methods", None)
    if got is None:
        found: dict[str, set[str]] = {}
        for prefix, route in routes_of(app.routes):
            path, methods = prefix + getattr(route, "path", ""), getattr(route, "methods", None)
            if methods and "{" not in path:
                found.setdefault(path, set()).update(methods)
        got = app.state.fixed_path_methods = {k: frozenset(v) for k, v in found.items()}
    return got


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body",) else [str(p) for p in loc]
    if loc and loc[0] in ("path", "query", "header"):
        parts = [str(p) for p in loc[1:]]
    return ".".join(parts) or "body"


def _body_model(r: Request) -> Any:
    """The pydantic model of the matched route's body, or None."""
    field = getattr(r.scope.get("route"), "body_field", None)
    return _inner_model(getattr(getattr(field, "field_info", None), "annotation", None))


def _fields_at(model: Any, path: tuple[Any, ...]) -> list[str] | None:
    """The field names of the model found at ``path`` (names and list indexes) below
    ``model``, or None when the path leaves the models."""
    for step in path:
        if isinstance(step, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or step not in fields:
            return None
        model = _inner_model(fields[step].annotation)
    names = getattr(model, "model_fields", None)
    return list(names) if names else None


def _inner_model(annotation: Any) -> Any:
    """``list[X]``, ``X | None``, ``X`` -> X when X is a model."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _unknown_fields(errors: list[dict[str, Any]], model: Any = None) -> str | None:
    """"unknown field 'max_retires' (did you mean 'max_retries'?)" for every field the
    body's model does not know, or None. The guess is among the fields of the model where
    the unknown one sits (``model``: the route's body model), else among every field some
    body knows; never the name itself."""
    extra = [e for e in errors if e.get("type") == "extra_forbidden"]
    if not extra:
        return None
    notes = []
    for e in extra:
        loc = tuple(e.get("loc", ()))
        name = str(loc[-1]) if loc else "?"
        where = ".".join(str(p) for p in loc[1:-1])
        here = _fields_at(model, loc[1:-1]) if model is not None else None
        known = here if here is not None else [
            str(k) for k in (e.get("ctx") or {}).get("known", [])]
        guess = difflib.get_close_matches(name, [k for k in known if k != name], n=1,
                                          cutoff=0.7)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        notes.append(f"{where + '.' if where else ''}{name!r}{hint}")
    return f"unknown field{'s' if len(notes) > 1 else ''} " + ", ".join(notes)


def classify(errors: list[dict[str, Any]], known: list[str] | None = None,
             model: Any = None) -> tuple[int, str]:
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "body: malformed JSON"
    if known is not None:
        for e in errors:
            if e.get("type") == "extra_forbidden":
                e["ctx"] = {**(e.get("ctx") or {}), "known": known}
    unknown = _unknown_fields(errors, model)
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
    async def _validation(r: Request, exc: RequestValidationError) -> JSONResponse:
        allowed = fixed_path_methods(r.app).get(r.scope["path"])
        if allowed and r.method not in allowed:
            # GET /jobs/definition matched GET /jobs/{job_id}: the fixed path exists, for
            # other methods (SPEC 2.2: fixed paths take precedence), so 405, not "job_id"
            return error(405, "Method Not Allowed", {"Allow": ", ".join(sorted(allowed))})
        errors = list(exc.errors())
        status, msg = classify(errors, models.KNOWN_FIELDS, _body_model(r))
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
