"""Alert channels of the key's environment (issue 19; ``services/channels.py``).

``GET /org/channels``, ``POST /org/channels``, ``GET|PUT|DELETE /org/channels/{id}``. Like
jobs, they belong to the key's environment (an admin key: ``X-API-ENVIRONMENT``); a channel
of another environment answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from ..domain.records import Channel
from ..domain.timefmt import rfc3339
from ..services import channels
from .deps import CanEdit, CanView, Id, NoBody, Svc
from .models import ChannelIn

router = APIRouter(tags=["organization"])


class ChannelOut(BaseModel):
    id: int
    environment_id: int
    name: str
    kind: str
    addresses: list[str]
    url: str | None
    created_at: str


def shape(c: Channel) -> dict[str, Any]:
    return {"id": c.id, "environment_id": c.environment_id, "name": c.name, "kind": c.kind,
            "addresses": c.addresses, "url": c.url, "created_at": rfc3339(c.created_at)}


@router.get("/org/channels", response_model=list[ChannelOut])
async def list_channels(svc: Svc, p: CanView) -> list[dict[str, Any]]:
    return [shape(c) for c in await channels.list_all(svc, p)]


@router.post("/org/channels", response_model=ChannelOut)
async def create_channel(body: ChannelIn, svc: Svc, p: CanEdit) -> dict[str, Any]:
    return shape(await channels.create(svc, p, body.model_dump()))


@router.get("/org/channels/{channel_id}", response_model=ChannelOut)
async def get_channel(channel_id: Id, svc: Svc, p: CanView) -> dict[str, Any]:
    return shape(await channels.get(svc, p, channel_id))


@router.put("/org/channels/{channel_id}", response_model=ChannelOut)
async def replace_channel(channel_id: Id, body: ChannelIn, svc: Svc, p: CanEdit
                          ) -> dict[str, Any]:
    return shape(await channels.replace(svc, p, channel_id, body.model_dump()))


@router.delete("/org/channels/{channel_id}", response_model=ChannelOut)
async def delete_channel(channel_id: Id, svc: Svc, p: CanEdit, _: NoBody) -> dict[str, Any]:
    return shape(await channels.delete(svc, p, channel_id))
