"""Job routes (SPEC 2.2). Fixed paths are declared before ``/jobs/{job_id}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from ..domain.errors import InvalidInput
from ..domain.text import digits
from ..services import controls
from ..services import jobs as svc_jobs
from ..services import pings as svc_pings
from . import shapes
from .deps import CanDefine, CanEdit, CanOperate, CanViewJobs, Id, NoBody, Svc
from .encode import answer
from .models import DefinitionIn, MuteIn, PauseIn, SkipIn, TriggerIn, WebhookIn

router = APIRouter(tags=["jobs"])


def parse_instant(text: str) -> datetime:
    """``at``: RFC 3339 with an offset (``2026-11-28T02:00:00Z``) or Unix seconds; 400
    otherwise. Years 2000-2200."""
    try:
        value = (datetime.fromtimestamp(int(text), UTC) if digits(text.lstrip("-"))
                 else datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(f"at: {text[:60]!r} is not an RFC 3339 instant") from None
    if value.tzinfo is None:
        raise InvalidInput("at: give the instant with its offset (e.g. 2026-11-28T02:00:00Z)")
    value = value.astimezone(UTC)
    if not 2000 <= value.year <= 2200:
        raise InvalidInput("at: must be between the years 2000 and 2200")
    return value


@router.post("/jobs/definition", response_model=shapes.JobOut)
async def define(body: DefinitionIn, svc: Svc, p: CanDefine) -> Response:
    return answer(shapes.job(await svc_jobs.define(svc, p, body.model_dump(exclude_unset=True))))


@router.post("/jobs/definition/internal", response_model=shapes.JobOut)
async def define_internal(body: DefinitionIn, svc: Svc, p: CanDefine) -> dict[str, Any]:
    return shapes.job(await svc_jobs.define(svc, p, body.model_dump(exclude_unset=True)))


@router.get("/jobs", response_model=list[shapes.JobOut])
async def list_jobs(svc: Svc, p: CanViewJobs) -> Response:
    return answer([shapes.job(j) for j in await svc_jobs.list_all(svc, p)])


@router.get("/jobs/list", response_model=list[shapes.JobWithConnections])
async def list_with_connections(svc: Svc, p: CanViewJobs) -> list[dict[str, Any]]:
    jobs = await svc_jobs.list_all(svc, p)
    counts = await svc_jobs.connections(svc, p, jobs)
    return [{"connections_count": counts[j.name], "job": shapes.job(j)} for j in jobs]


@router.patch("/jobs/mute/{job_id}", response_model=shapes.JobOut)
async def mute(job_id: Id, body: MuteIn, svc: Svc, p: CanOperate) -> dict[str, Any]:
    return shapes.job(await svc_jobs.mute(svc, p, job_id, body.muted))


@router.patch("/jobs/pause/{job_id}", response_model=shapes.JobOut)
async def pause(
    job_id: Id, svc: Svc, p: CanOperate, body: PauseIn | None = None
) -> dict[str, Any]:
    if body is not None and body.until is not None:  # a timed pause (extension)
        return shapes.job(await controls.pause_until(svc, p, job_id, body.until))
    return shapes.job(await svc_jobs.pause(svc, p, job_id))


@router.patch("/jobs/skip/{job_id}", response_model=shapes.JobOut)
async def skip(job_id: Id, body: SkipIn, svc: Svc, p: CanOperate) -> dict[str, Any]:
    """Extension: the next ``count`` ticks are recorded as skipped runs (0 cancels)."""
    return shapes.job(await controls.skip(svc, p, job_id, body.count))


@router.patch("/jobs/resume/{job_id}", response_model=shapes.JobOut)
async def resume(job_id: Id, svc: Svc, p: CanOperate, _: NoBody) -> dict[str, Any]:
    return shapes.job(await svc_jobs.resume(svc, p, job_id))


@router.post("/jobs/trigger/{job_id}", response_model=shapes.ExecutionOut)
async def trigger(
    job_id: Id, svc: Svc, p: CanOperate, body: TriggerIn | None = None
) -> dict[str, Any]:
    payload = body.payload if body is not None else None
    return shapes.execution(await svc_jobs.trigger(svc, p, job_id, payload))


@router.patch("/jobs/webhook/{job_id}", response_model=shapes.JobOut)
async def webhook(job_id: Id, body: WebhookIn, svc: Svc, p: CanEdit) -> dict[str, Any]:
    return shapes.job(await svc_jobs.set_webhook(svc, p, job_id, body.webhook_url))


@router.get("/jobs/{job_id}/connections/count", response_model=int)
async def connections_count(job_id: Id, svc: Svc, p: CanViewJobs) -> int:
    job = await svc_jobs.get(svc, p, job_id)
    return (await svc_jobs.connections(svc, p, [job]))[job.name]


@router.get("/jobs/{job_id}/explain")
async def explain(job_id: Id, svc: Svc, p: CanViewJobs, at: str | None = None) -> dict[str, Any]:
    """Whether the schedule fires at ``at`` (RFC 3339, or Unix seconds; default now) and
    what happened or will happen there (docs/semantics.md, "Why did or didn't it run")."""
    instant = svc.clock.now() if at is None else parse_instant(at)
    return (await svc_jobs.explain(svc, p, job_id, instant)).as_dict()


@router.get("/jobs/{job_id}", response_model=shapes.JobDetail)
async def get_job(job_id: Id, svc: Svc, p: CanViewJobs) -> Response:
    job, last, connections = await svc_jobs.with_last_run(svc, p, job_id)
    return answer({
        "connections_count": connections,
        "job": shapes.job(job),
        "last_run": shapes.execution(last) if last else None,
        "ping": await svc_pings.ping_urls(svc, job),
    })


@router.delete("/jobs/{job_id}", response_model=str)
async def delete_job(job_id: Id, svc: Svc, p: CanEdit, _: NoBody) -> str:
    await svc_jobs.delete(svc, p, job_id)
    return f"Job {job_id} deleted"
