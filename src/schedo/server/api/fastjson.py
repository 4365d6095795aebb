"""Answers of the hot routes, serialised once with orjson.

FastAPI validates a route's return value against its ``response_model`` and serialises it
with the standard library: about a millisecond per answer of a job or a page of runs, more
than the database statements behind it. The shapes of ``shapes.py`` are plain JSON already
(they are built from our own records), so the hot routes return them serialised here and
keep their ``response_model`` for the OpenAPI document only; the API tests and the fuzz suite
check the answers against that document.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

import orjson
from fastapi import Response


def json_response(data: Any, status_code: int = 200) -> Response:
    try:
        body = orjson.dumps(data)
    except TypeError:  # what orjson refuses but JSON allows (an integer beyond 64 bits)
        body = json.dumps(data, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode()
    return Response(body, status_code=status_code, media_type="application/json")


P = ParamSpec("P")


def fast(endpoint: Callable[P, Awaitable[Any]]) -> Callable[P, Awaitable[Response]]:
    """A route whose shape-built answer goes out through ``json_response``. FastAPI reads the
    route's parameters through ``functools.wraps`` (``__wrapped__``) and passes a returned
    ``Response`` through untouched; the route keeps ``response_model`` for its document."""

    @functools.wraps(endpoint)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        return json_response(await endpoint(*args, **kwargs))

    return wrapper
