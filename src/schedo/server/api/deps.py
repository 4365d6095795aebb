"""FastAPI dependencies: the services container and the authenticated principal."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Path, Request

from ...limits import MAX_ID
from ..domain.audit import Via
from ..services.auth import authenticate
from ..services.context import Principal, Services


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def services_dependency(request: Request) -> Services:
    # async: FastAPI would run a plain ``def`` dependency in its thread pool (a hop per request)
    return services(request)


async def principal(request: Request) -> Principal:
    # the headers are read here, not declared as FastAPI ``Header`` parameters: FastAPI
    # validates declared ones on every request (~25 µs for these two optional strings, the
    # same values); api/openapi_auth.py documents them in /openapi.json as before
    headers = request.headers
    x_api_key = headers.get("x-api-key")
    x_api_environment = headers.get("x-api-environment")
    # the abuse limits (api/limits.py) hook in here rather than as a dependency override:
    # FastAPI re-analyses an overriding dependency on every request (~1 ms of CPU)
    guard = getattr(request.app.state, "auth_guard", None)
    if guard is not None:
        p: Principal = await guard(request, x_api_key, x_api_environment)
    else:
        p = await authenticate(services(request), x_api_key, x_api_environment)
    via = request.headers.get(VIA_HEADER)
    if via in CLIENT_VIAS:  # the audit log's way in, as the client declares it
        p = replace(p, via=via)
    return p


VIA_HEADER = "x-schedo-via"
CLIENT_VIAS = (Via.CLI.value, Via.WORKER.value)


Svc = Annotated[Services, Depends(services_dependency)]
Auth = Annotated[Principal, Depends(principal)]
Id = Annotated[int, Path(gt=0, le=MAX_ID, description="A positive integer id")]
