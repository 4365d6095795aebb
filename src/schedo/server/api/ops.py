"""Operational routes: liveness and readiness (extensions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from .deps import Svc

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    """The process is up (it answers even when the database is not reachable)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(svc: Svc) -> JSONResponse:
    """The database is reachable and takes writes."""
    try:
        await svc.store.ping()
    except Exception as exc:  # any driver error means "not ready"
        return JSONResponse(
            {"status": "unavailable", "message": f"database: {type(exc).__name__}"},
            status_code=503,
        )
    failure = await svc.store.write_failure()
    if failure is not None:
        return JSONResponse(
            {"status": "unavailable", "message": f"database not writable: {failure}"},
            status_code=503,
        )
    return JSONResponse({"status": "ok"})
