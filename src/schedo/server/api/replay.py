"""Backfill and re-run routes (extension; docs/api.md "Scheduling controls")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from ..services import replay
from . import shapes
from .deps import CanOperate, Id, NoBody, Svc
from .models import BackfillIn

router = APIRouter(tags=["jobs"])


class BackfillOut(BaseModel):
    job_id: int
    instants: int
    created: int
    executions: list[shapes.ExecutionOut]


@router.post("/jobs/{job_id}/backfill", response_model=BackfillOut)
async def backfill(job_id: Id, body: BackfillIn, svc: Svc, p: CanOperate) -> dict[str, Any]:
    """Runs of every fire instant in [from, to] that has none yet (at most 1,000 instants)."""
    total, created = await replay.backfill(svc, p, job_id, body.from_, body.to)
    return {"job_id": job_id, "instants": total, "created": len(created),
            "executions": [shapes.execution(e) for e in created]}


@router.post("/jobs/executions/{exec_id}/rerun", response_model=shapes.ExecutionOut)
async def rerun(exec_id: Id, svc: Svc, p: CanOperate, _: NoBody) -> dict[str, Any]:
    """The execution's instant again, as its next attempt (trigger "rerun")."""
    return shapes.execution(await replay.rerun(svc, p, exec_id))

