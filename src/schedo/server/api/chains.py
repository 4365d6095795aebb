"""Chain routes (extension, issue 21; docs/api.md "Chains"): a job's upstream and
downstream jobs, a run's causes and effects. A foreign id answers like a missing one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from ..domain.records import Job
from ..services import chains
from . import shapes
from .deps import CanView, CanViewJobs, Id, Svc

router = APIRouter(tags=["jobs"])


class ChainJobOut(BaseModel):
    id: int
    name: str
    type: str
    status: str
    paused: bool
    after: dict[str, Any] | None


class JobChainOut(BaseModel):
    job: ChainJobOut
    upstream: list[ChainJobOut]
    missing: list[str]  # upstream names the environment has no job of (deleted since)
    downstream: list[ChainJobOut]


class RunChainOut(BaseModel):
    execution: shapes.ExecutionOut
    causes: list[shapes.ExecutionOut]
    effects: list[shapes.ExecutionOut]


def _job(j: Job) -> dict[str, Any]:
    return {"id": j.id, "name": j.name, "type": j.type.value, "status": j.status.value,
            "paused": j.paused, "after": j.after}


@router.get("/jobs/{job_id}/chain", response_model=JobChainOut)
async def job_chain(job_id: Id, svc: Svc, p: CanViewJobs) -> dict[str, Any]:
    """The jobs this job runs after (``upstream``; ``missing``: names with no job now) and
    the jobs that run after it (``downstream``)."""
    ch = await chains.job_chain(svc, p, job_id)
    return {"job": _job(ch.job), "upstream": [_job(j) for j in ch.upstream],
            "missing": ch.missing, "downstream": [_job(j) for j in ch.downstream]}


@router.get("/jobs/executions/{exec_id}/chain", response_model=RunChainOut)
async def run_chain(exec_id: Id, svc: Svc, p: CanView) -> dict[str, Any]:
    """The upstream runs that caused this run (for a retry: those of its first attempt)
    and the downstream runs it caused."""
    ch = await chains.run_chain(svc, p, exec_id)
    return {"execution": shapes.execution(ch.run),
            "causes": [shapes.execution(e) for e in ch.causes],
            "effects": [shapes.execution(e) for e in ch.effects]}
