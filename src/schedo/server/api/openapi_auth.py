"""Document the API key headers in ``/openapi.json`` although ``deps.principal`` reads them
from the request itself.

FastAPI validates each declared ``Header`` parameter on every request (~25 µs for the two of
``principal``, issue 18); the key and the environment are optional strings, so reading them
from ``request.headers`` gives the same values. This puts back in the schema exactly the
parameters FastAPI generated when ``principal`` declared them (generated here by FastAPI from
the same declaration), on every operation that authenticates, after the operation's own
parameters as FastAPI placed them: the document equals, as JSON, the one FastAPI made from
the declared headers (checked when this was written; only the order of keys inside some
objects differs). tests/hardening/test_openapi_auth.py checks every operation.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header
from fastapi.routing import APIRoute

from .deps import principal
from .route_walk import routes_of


async def _declared(
    x_api_key: Annotated[str | None, Header(alias="x-api-key")] = None,
    x_api_environment: Annotated[str | None, Header(alias="X-API-ENVIRONMENT")] = None,
) -> None:
    """The headers as ``principal`` declared them before (for the schema only)."""


def declared_parameters() -> list[dict[str, Any]]:
    """The two header parameters as FastAPI documents ``_declared``'s declaration."""
    probe = FastAPI()

    @probe.get("/probe")
    async def _probe(_: Annotated[None, Depends(_declared)]) -> None:
        return None

    params: list[dict[str, Any]] = probe.openapi()["paths"]["/probe"]["get"]["parameters"]
    return params


def _authenticates(dependant: Any) -> bool:
    return any(d.call is principal or getattr(d.call, "authenticates", False)
               or _authenticates(d) for d in dependant.dependencies)


def _operations(routes: list[Any]) -> set[tuple[str, str]]:
    """(path, method) of every documented operation that authenticates."""
    out: set[tuple[str, str]] = set()
    for prefix, route in routes_of(routes, schema_only=True):
        if (isinstance(route, APIRoute) and route.include_in_schema
                and _authenticates(route.dependant)):
            out |= {(prefix + route.path_format, m.lower()) for m in route.methods or ()}
    return out


def _with_parameters(op: dict[str, Any], extra: list[dict[str, Any]]) -> dict[str, Any]:
    """``op`` with ``extra`` after its parameters, the key where FastAPI puts it."""
    have = {(p["in"], p["name"]) for p in op.get("parameters", [])}
    params = [*op.get("parameters", []), *(p for p in extra if (p["in"], p["name"]) not in have)]
    if "parameters" in op:
        return {**op, "parameters": params}
    out: dict[str, Any] = {}
    for key, value in op.items():
        if key in ("requestBody", "responses", "callbacks") and "parameters" not in out:
            out["parameters"] = params
        out[key] = value
    out.setdefault("parameters", params)
    return out


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` document the key headers (install before ``openapi_errors``)."""
    original = app.openapi
    extra = declared_parameters()

    def openapi() -> dict[str, Any]:
        schema = original()
        paths = schema.get("paths", {})
        for path, method in _operations(app.routes):
            if method in paths.get(path, {}):
                paths[path][method] = _with_parameters(paths[path][method], extra)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
