"""Execution routes: history and completion (the worker pull routes live in pull.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..domain.errors import InvalidInput
from ..services import runs
from . import shapes
from .deps import MAX_ID, Auth, Id, Svc
from .models import CompleteIn

router = APIRouter(tags=["executions"])


@router.get("/jobs/executions/{job_id}", response_model=list[shapes.ExecutionOut])
async def history(
    job_id: Id,
    svc: Svc,
    p: Auth,
    cursor: Annotated[int | None, Query(gt=0, le=MAX_ID + 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    return [shapes.execution(e) for e in await runs.history(svc, p, job_id, cursor, limit)]


def _ms(value: int | None, field: str) -> int | None:
    if value is not None and not runs.MS_MIN <= value <= runs.MS_MAX:
        raise InvalidInput(f"{field}: Unix milliseconds between years 2000 and 2200")
    return value


@router.post("/jobs/executions/complete/{exec_id}", response_model=shapes.ExecutionOut)
async def complete(exec_id: Id, body: CompleteIn, svc: Svc, p: Auth) -> dict[str, Any]:
    if body.exit_code is not None and not -(2**31) <= body.exit_code < 2**31:
        raise InvalidInput("exit_code: must be a 32-bit integer")
    ex = await runs.complete(
        svc,
        p,
        exec_id,
        success=body.success,
        output=body.output,
        error=body.error,
        start_ms=_ms(body.start_server_time_utc, "start_server_time_utc"),
        end_ms=_ms(body.complete_server_time_utc, "complete_server_time_utc"),
        exit_code=body.exit_code,
    )
    return shapes.execution(ex)
