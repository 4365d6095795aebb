"""FastAPI dependencies: the services container and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from ..services.auth import authenticate
from ..services.context import Principal, Services

MAX_ID = 2**31 - 1  # ids are 32-bit integer columns on PostgreSQL


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def principal(
    request: Request,
    x_api_key: Annotated[str | None, Header(alias="x-api-key")] = None,
    x_api_environment: Annotated[str | None, Header(alias="X-API-ENVIRONMENT")] = None,
) -> Principal:
    return await authenticate(services(request), x_api_key, x_api_environment)


Svc = Annotated[Services, Depends(services)]
Auth = Annotated[Principal, Depends(principal)]
Id = Annotated[int, Path(gt=0, le=MAX_ID, description="A positive integer id")]
