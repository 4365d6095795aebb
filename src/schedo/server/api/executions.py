"""Run routes: history and completion (the worker pull routes live in pull.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from ...limits import MAX_ID, PAGE_MAX
from ..domain.errors import InvalidInput, SchedoError
from ..domain.records import Completion
from ..services import runs
from . import shapes
from .deps import CanReport, CanView, Digits, Id, Svc
from .encode import answer
from .errors import STATUS
from .models import BatchCompleteIn, CompleteIn

router = APIRouter(tags=["executions"])


@router.get("/jobs/executions/{job_id}", response_model=list[shapes.ExecutionOut])
async def history(
    job_id: Id,
    svc: Svc,
    p: CanView,
    cursor: Annotated[int | None, Digits, Query(gt=0)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> Response:
    if cursor is not None and cursor > MAX_ID:
        cursor = None  # "ids below 2^31": every id (and no int4 overflow on PostgreSQL)
    views = await runs.history_views(svc, p, job_id, cursor, limit)
    return answer([shapes.execution_view(v) for v in views])


def _report(body: CompleteIn) -> Completion:
    return runs.completion(
        success=body.success, output=body.output, error=body.error,
        start_ms=body.start_server_time_utc, end_ms=body.complete_server_time_utc,
        exit_code=body.exit_code,
    )


@router.post("/jobs/executions/complete/{exec_id}", response_model=shapes.ExecutionOut)
async def complete(exec_id: Id, body: CompleteIn, svc: Svc, p: CanReport) -> Response:
    return answer(shapes.execution(await runs.complete(svc, p, exec_id, _report(body))))


@router.post("/jobs/executions/complete", response_model=list[shapes.BatchResultOut])
async def complete_batch(body: BatchCompleteIn, svc: Svc, p: CanReport) -> Response:
    """Extension: many reports in one request and one transaction. Each result carries its
    own status: 200 with the execution, or 400/404/409 with a message; one bad report never
    affects the others. Encoded once (``encode.answer``): every key of ``BatchResultOut``,
    in its order, as its model dump gives them."""
    results: dict[int, dict[str, Any]] = {}
    valid: list[tuple[int, Completion]] = []
    for item in body.results:
        try:
            if not 0 < item.id <= MAX_ID:
                raise InvalidInput("id: must be a positive integer")
            valid.append((item.id, _report(item)))
        except InvalidInput as exc:
            results[id(item)] = _result(item.id, 400, str(exc))
    done = iter(await runs.complete_batch(svc, p, valid)) if valid else iter(())
    out: list[dict[str, Any]] = []
    for item in body.results:
        if id(item) in results:
            out.append(results[id(item)])
            continue
        exec_id, result = next(done)
        if isinstance(result, SchedoError):
            out.append(_result(exec_id, STATUS.get(type(result), 400), str(result)))
        else:
            out.append(_result(exec_id, 200, None, shapes.execution(result)))
    return answer(out)


def _result(exec_id: int, status: int, message: str | None,
            execution: dict[str, Any] | None = None) -> dict[str, Any]:
    """One ``BatchResultOut``."""
    return {"id": exec_id, "status": status, "message": message, "execution": execution}
