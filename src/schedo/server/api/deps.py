"""FastAPI dependencies: the services container and the authenticated principal."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from ...limits import ID_DIGITS, MAX_ID
from ..domain.audit import Via
from ..domain.errors import Forbidden, InvalidInput
from ..domain.permissions import Action, allows, refusal
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


def needs(action: Action) -> Any:
    """The route's permission (domain/permissions.py): the principal if its key scope or
    role allows ``action``, else 403 naming what it needs (before any lookup, so a missing
    and a foreign id answer alike)."""

    # ``principal`` is called here, not declared as a sub-dependency: each dependant costs
    # FastAPI's solving on every request (~9 µs); api/openapi_auth.py finds the routes that
    # authenticate by ``authenticates``
    async def permitted(request: Request) -> Principal:
        p = await principal(request)
        if not allows(p.grant, action):
            raise Forbidden(refusal(p.grant, action))
        return p

    permitted.action = action  # type: ignore[attr-defined]  # read by tests and docs
    permitted.authenticates = True  # type: ignore[attr-defined]
    return Depends(permitted)


# One alias per action: a route names its action once, as the type of its principal.
CanViewJobs = Annotated[Principal, needs(Action.VIEW_JOBS)]
CanView = Annotated[Principal, needs(Action.VIEW)]
CanDefine = Annotated[Principal, needs(Action.DEFINE)]
CanPull = Annotated[Principal, needs(Action.PULL)]
CanReport = Annotated[Principal, needs(Action.REPORT)]
CanWriteLog = Annotated[Principal, needs(Action.WRITE_LOG)]
CanWatchCancel = Annotated[Principal, needs(Action.WATCH_CANCEL)]
CanOperate = Annotated[Principal, needs(Action.OPERATE)]
CanEdit = Annotated[Principal, needs(Action.EDIT)]
CanAdmin = Annotated[Principal, needs(Action.ADMIN)]
_DIGITS = re.compile(ID_DIGITS)


def _written_in_digits(value: object) -> object:
    """An id in a path or a query is its decimal digits and nothing else. pydantic's lax
    integers also read "1.0", "+1", " 1", "01" and "1_0" (as 10): one thing with many names,
    and a typo that names another thing. (JSON bodies keep pydantic's rules: the hosted
    service's clients send ids there.)"""
    if isinstance(value, str) and _DIGITS.fullmatch(value) is None:
        raise PydanticCustomError("id_digits", "must be a positive integer in digits, as 42")
    return value


Digits = BeforeValidator(_written_in_digits)
Id = Annotated[int, Digits, Path(gt=0, le=MAX_ID, description="A positive integer id")]
QueryId = Annotated[int | None, Digits, Query(gt=0, le=MAX_ID)]  # an optional id filter


async def _no_body(request: Request) -> None:
    """A route that takes no body refuses one with content (docs/api.md: an unknown field
    is a 400 on every body): none, ``{}`` or ``null`` is fine (clients send ``{}`` with a
    PATCH), ``{"x": 1}`` names its field, anything else is refused as not a body."""
    raw = (await request.body()).strip()
    if not raw:
        return
    try:
        value = json.loads(raw)
    except ValueError:
        value = ...
    if value is None or value == {}:
        return
    if isinstance(value, dict):
        raise InvalidInput(f"body: unknown field {next(iter(value))!r} (this route takes no "
                           "body)")
    raise InvalidInput("body: this route takes no body (send none, or {})")


NoBody = Annotated[None, Depends(_no_body)]
