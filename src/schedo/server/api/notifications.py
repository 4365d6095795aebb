"""Notification history (SPEC 4, extension): what was sent about which turn of which job.

``GET /org/notifications?limit=50`` (1..200), newest first. An admin key sees every
environment of its organisation; an environment key only its own environment's notifications
(an environment key never sees another environment, SPEC 1).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ...limits import PAGE_MAX
from ..domain.timefmt import rfc3339
from ..services import notifications
from ..services.notifications import Delivery, NotificationRecord
from .deps import CanView, QueryId, Svc

router = APIRouter(tags=["organization"])


class DeliveryOut(BaseModel):
    channel: str
    target: str
    status: str
    tries: int
    last_error: str | None
    sent_at: str | None


class NotificationOut(BaseModel):
    id: int
    kind: str
    job_id: int
    job_name: str
    environment_id: int
    execution_id: int
    status: str
    attempt: int
    scheduled_for: str
    error: str | None
    created_at: str
    deliveries: list[DeliveryOut]


def delivery(d: Delivery) -> dict[str, Any]:
    return {
        "channel": d.channel,
        "target": d.target,
        "status": d.status,
        "tries": d.tries,
        "last_error": d.last_error,
        "sent_at": rfc3339(d.sent_at),
    }


def notification(rec: NotificationRecord) -> dict[str, Any]:
    n = rec.notification
    return {
        "id": n.id,
        "kind": n.kind,
        "job_id": n.job_id,
        "job_name": n.job_name,
        "environment_id": n.environment_id,
        "execution_id": n.execution_id,
        "status": n.execution_status,
        "attempt": n.attempt,
        "scheduled_for": rfc3339(n.scheduled_for),
        "error": n.error,
        "created_at": rfc3339(n.created_at),
        "deliveries": [delivery(d) for d in rec.deliveries],
    }


@router.get("/org/notifications", response_model=list[NotificationOut])
async def list_notifications(
    svc: Svc, p: CanView, limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
    job_id: QueryId = None,
) -> list[dict[str, Any]]:
    return [notification(r) for r in await notifications.history(svc, p, limit, job_id)]
