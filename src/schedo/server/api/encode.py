"""Answers encoded once: a route that returns ``answer(content)`` skips FastAPI's response
validation and serialisation (a pydantic validation of the whole answer, then a dump), which
costs as much as the answer's own reads on list routes.

``content`` must already have the route's ``response_model`` shape, keys in the model's
order (``shapes`` builds them so; tests/api/test_encode.py compares the bytes with what
FastAPI makes through the model). The bytes are pydantic-core's own JSON, with the settings
FastAPI's model dump uses (non-finite floats as ``null``), so nothing a client sees changes.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from starlette.responses import Response


def encoded(content: Any) -> bytes:
    return to_json(content, inf_nan_mode="null")


def answer(content: Any, status_code: int = 200) -> Response:
    """A JSON response of ``content`` (``application/json``, as FastAPI answers)."""
    return Response(encoded(content), status_code=status_code, media_type="application/json")
