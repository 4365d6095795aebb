"""Job routes (SPEC 2.2). Fixed paths are declared before ``/jobs/{job_id}``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..services import controls
from ..services import jobs as svc_jobs
from . import shapes
from .deps import Auth, Id, Svc
from .models import DefinitionIn, MuteIn, PauseIn, SkipIn, TriggerIn, WebhookIn

router = APIRouter(tags=["jobs"])


@router.post("/jobs/definition", response_model=shapes.JobOut)
async def define(body: DefinitionIn, svc: Svc, p: Auth) -> dict[str, Any]:
    return shapes.job(await svc_jobs.define(svc, p, body.model_dump(exclude_unset=True)))


@router.post("/jobs/definition/internal", response_model=shapes.JobOut)
async def define_internal(body: DefinitionIn, svc: Svc, p: Auth) -> dict[str, Any]:
    return shapes.job(await svc_jobs.define(svc, p, body.model_dump(exclude_unset=True)))


@router.get("/jobs", response_model=list[shapes.JobOut])
async def list_jobs(svc: Svc, p: Auth) -> list[dict[str, Any]]:
    return [shapes.job(j) for j in await svc_jobs.list_all(svc, p)]


@router.get("/jobs/list", response_model=list[shapes.JobWithConnections])
async def list_with_connections(svc: Svc, p: Auth) -> list[dict[str, Any]]:
    jobs = await svc_jobs.list_all(svc, p)
    counts = await svc_jobs.connections(svc, p, jobs)
    return [{"connections_count": counts[j.name], "job": shapes.job(j)} for j in jobs]


@router.patch("/jobs/mute/{job_id}", response_model=shapes.JobOut)
async def mute(job_id: Id, body: MuteIn, svc: Svc, p: Auth) -> dict[str, Any]:
    return shapes.job(await svc_jobs.mute(svc, p, job_id, body.muted))


@router.patch("/jobs/pause/{job_id}", response_model=shapes.JobOut)
async def pause(
    job_id: Id, svc: Svc, p: Auth, body: PauseIn | None = None
) -> dict[str, Any]:
    if body is not None and body.until is not None:  # a timed pause (extension)
        return shapes.job(await controls.pause_until(svc, p, job_id, body.until))
    return shapes.job(await svc_jobs.pause(svc, p, job_id))


@router.patch("/jobs/skip/{job_id}", response_model=shapes.JobOut)
async def skip(job_id: Id, body: SkipIn, svc: Svc, p: Auth) -> dict[str, Any]:
    """Extension: the next ``count`` ticks are recorded as skipped runs (0 cancels)."""
    return shapes.job(await controls.skip(svc, p, job_id, body.count))


@router.patch("/jobs/resume/{job_id}", response_model=shapes.JobOut)
async def resume(job_id: Id, svc: Svc, p: Auth) -> dict[str, Any]:
    return shapes.job(await svc_jobs.resume(svc, p, job_id))


@router.post("/jobs/trigger/{job_id}", response_model=shapes.ExecutionOut)
async def trigger(
    job_id: Id, svc: Svc, p: Auth, body: TriggerIn | None = None
) -> dict[str, Any]:
    payload = body.payload if body is not None else None
    return shapes.execution(await svc_jobs.trigger(svc, p, job_id, payload))


@router.patch("/jobs/webhook/{job_id}", response_model=shapes.JobOut)
async def webhook(job_id: Id, body: WebhookIn, svc: Svc, p: Auth) -> dict[str, Any]:
    return shapes.job(await svc_jobs.set_webhook(svc, p, job_id, body.webhook_url))


@router.get("/jobs/{job_id}/connections/count", response_model=int)
async def connections_count(job_id: Id, svc: Svc, p: Auth) -> int:
    job = await svc_jobs.get(svc, p, job_id)
    return (await svc_jobs.connections(svc, p, [job]))[job.name]


@router.get("/jobs/{job_id}", response_model=shapes.JobDetail)
async def get_job(job_id: Id, svc: Svc, p: Auth) -> dict[str, Any]:
    job, last = await svc_jobs.with_last_run(svc, p, job_id)
    return {
        "connections_count": (await svc_jobs.connections(svc, p, [job]))[job.name],
        "job": shapes.job(job),
        "last_run": shapes.execution(last) if last else None,
    }


@router.delete("/jobs/{job_id}", response_model=str)
async def delete_job(job_id: Id, svc: Svc, p: Auth) -> str:
    await svc_jobs.delete(svc, p, job_id)
    return f"Job {job_id} deleted"
