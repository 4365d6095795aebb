"""An environment's webhook signature key and its rotation with an overlap (issue 22).

``GET /org/environments/{id}/webhook-secret`` and ``POST
/org/environments/{id}/webhook-secret/rotate`` (body optional: ``{"overlap_seconds": 0 to
604800}``, default 86400): admin keys only; another organisation's environment is 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from ..domain.timefmt import rfc3339
from ..services import secrets
from .deps import CanAdmin, Id, Svc

router = APIRouter(tags=["organization"])


class RotateIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    overlap_seconds: int | None = None


class WebhookSecretOut(BaseModel):
    environment_id: int
    environment_name: str
    webhook_signature_key: str
    previous_valid_until: str | None


def shape(s: secrets.SigningState) -> dict[str, Any]:
    return {"environment_id": s.environment_id, "environment_name": s.environment_name,
            "webhook_signature_key": s.key,
            "previous_valid_until": rfc3339(s.previous_valid_until)}


@router.get("/org/environments/{env_id}/webhook-secret", response_model=WebhookSecretOut)
async def get_secret(env_id: Id, svc: Svc, p: CanAdmin) -> dict[str, Any]:
    return shape(await secrets.state(svc, p, env_id))


@router.post("/org/environments/{env_id}/webhook-secret/rotate",
             response_model=WebhookSecretOut)
async def rotate_secret(
    env_id: Id, svc: Svc, p: CanAdmin, body: RotateIn | None = None
) -> dict[str, Any]:
    overlap = None if body is None else body.overlap_seconds
    return shape(await secrets.rotate(svc, p, env_id, overlap))
