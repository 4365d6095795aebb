"""Document the API's error answers in ``/openapi.json``.

Every error leaves the API as ``{"message": "..."}`` (``errors.py``), but FastAPI only
documents 200 and a 422 with its own ``HTTPValidationError`` shape. This adds an
``ErrorMessage`` schema and, on every API operation, the statuses of SPEC section 2 (400,
401, 403, 404, 409, 413, 422, 429 with ``Retry-After``, 503 while the database is away), so
clients generated from the schema and schemathesis' conformance checks see what the server
really answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorMessage",
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string", "description": "what is wrong, naming the field"}},
}
REF = {"$ref": "#/components/schemas/ErrorMessage"}
RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}
}
API_ERRORS: dict[str, str] = {
    "400": "Malformed or invalid input",
    "401": "Missing, unknown or revoked API key",
    "403": "The key lacks the right",
    "404": "Unknown id (or one of another tenant)",
    "409": "State conflict",
    "413": "Body too large",
    "422": "Well-formed JSON of the wrong shape",
    "429": "Rate limited",
    "503": "Database unavailable; retry shortly",
}
# Operational routes document their own answers.
UNTOUCHED = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"}
READYZ_503 = {
    "description": "The database cannot be reached",
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["status"],
        "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
    }}},
}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses to an OpenAPI document (in place; idempotent)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorMessage"] = ERROR_SCHEMA
    for path, ops in schema.get("paths", {}).items():
        if path == "/readyz" and "get" in ops:
            ops["get"].setdefault("responses", {}).setdefault("503", READYZ_503)
        if path in UNTOUCHED:
            continue
        for op in ops.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            for status, text in API_ERRORS.items():
                entry: dict[str, Any] = {
                    "description": text,
                    "content": {"application/json": {"schema": REF}},
                }
                if status in ("429", "503"):
                    entry["headers"] = RETRY_AFTER
                if status == "422":
                    responses[status] = entry  # our shape, not FastAPI's HTTPValidationError
                else:
                    responses.setdefault(status, entry)
    return schema


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with the error responses."""
    if getattr(app.state, "openapi_errors_installed", False):
        return
    app.state.openapi_errors_installed = True
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if getattr(app.state, "openapi_errors_done", False) and app.openapi_schema:
            return app.openapi_schema
        schema = document_errors(original())
        app.openapi_schema = schema
        app.state.openapi_errors_done = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
