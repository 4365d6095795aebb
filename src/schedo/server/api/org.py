"""Organisation, environments, API keys and emails (SPEC 2.2)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ...limits import MAX_ID
from ..domain.errors import InvalidInput
from ..services import tenants
from . import shapes
from .deps import CanAdmin, CanView, Id, NoBody, Svc
from .models import ApiKeyIn, EnvironmentIn

router = APIRouter(tags=["organization"])

Email = Annotated[str, Body(description="The address, as a bare JSON string", strict=True)]


@router.post("/apikeys", response_model=shapes.ApiKeyOut)
async def create_key(body: ApiKeyIn, svc: Svc, p: CanAdmin) -> dict[str, Any]:
    if not 0 < body.environment_id <= MAX_ID:
        raise InvalidInput("environment_id: must be a positive integer")
    record, secret = await tenants.create_key(svc, p, body.environment_id, body.name, body.scope)
    return shapes.api_key(record, secret)


@router.get("/apikeys", response_model=list[shapes.ApiKeyOut])
async def list_keys(svc: Svc, p: CanView) -> list[dict[str, Any]]:
    return [shapes.api_key(k) for k in await tenants.list_keys(svc, p)]


@router.delete("/apikeys/revoke/{key_id}", response_model=list[shapes.ApiKeyOut])
async def revoke_key(key_id: Id, svc: Svc, p: CanAdmin) -> list[dict[str, Any]]:
    return [shapes.api_key(await tenants.revoke_key(svc, p, key_id))]


@router.post("/org/environments", response_model=shapes.EnvironmentOut)
async def create_environment(body: EnvironmentIn, svc: Svc, p: CanAdmin) -> dict[str, Any]:
    return shapes.environment(await tenants.create_environment(svc, p, body.name))


@router.get("/org/environments", response_model=list[shapes.EnvironmentOut])
async def list_environments(svc: Svc, p: CanAdmin) -> list[dict[str, Any]]:
    return [shapes.environment(e) for e in await tenants.list_environments(svc, p)]


@router.delete("/org/environments/{env_id}", response_model=shapes.EnvironmentOut)
async def delete_environment(env_id: Id, svc: Svc, p: CanAdmin, _: NoBody) -> dict[str, Any]:
    return shapes.environment(await tenants.delete_environment(svc, p, env_id))


@router.get("/org", response_model=shapes.OrgOut)
async def get_org(svc: Svc, p: CanView) -> dict[str, Any]:
    o, emails = await tenants.org(svc, p)
    return shapes.org(o, emails)


@router.get("/org/emails", response_model=list[str])
async def list_emails(svc: Svc, p: CanView) -> list[str]:
    return await tenants.emails(svc, p)


@router.post("/org/emails", response_model=list[str])
async def add_email(email: Email, svc: Svc, p: CanAdmin) -> list[str]:
    return await tenants.add_email(svc, p, email)


@router.delete("/org/emails", response_model=list[str])
async def remove_email(email: Email, svc: Svc, p: CanAdmin) -> list[str]:
    return await tenants.remove_email(svc, p, email)
