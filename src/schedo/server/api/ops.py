"""Operational routes: liveness and readiness (extensions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..services import ops
from .deps import Svc

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    """The process is up (it answers even when the database is not reachable)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(svc: Svc) -> JSONResponse:
    """The database is reachable and takes writes."""
    reason = await ops.not_ready(svc)
    if reason is not None:
        return JSONResponse({"status": "unavailable", "message": reason}, status_code=503)
    return JSONResponse({"status": "ok"})
