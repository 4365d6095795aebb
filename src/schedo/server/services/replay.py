"""Backfill and re-run use cases (rules: domain/backfill.py, docs/semantics.md)."""

from __future__ import annotations

from datetime import timedelta

from ..domain.backfill import fire_instants
from ..domain.errors import InvalidInput
from ..domain.records import Run
from ..domain.schedules import fires, of_job
from . import validation
from .context import Principal, Services
from .scheduling import topics


async def backfill(
    svc: Services, p: Principal, job_id: int, start_text: str, end_text: str
) -> tuple[int, list[Run]]:
    """Create the runs of the job's fire instants in [from, to] that have none yet; return
    how many instants the range holds and the runs created."""
    now = svc.clock.now()
    start = validation.instant(start_text, "from")
    end = validation.instant(end_text, "to")
    if end < start:
        raise InvalidInput("to: must not be before from")
    if end > now:
        raise InvalidInput("to: must not be in the future (the scheduler runs those ticks)")
    job = await svc.store.get_job(p.env_id, job_id)
    instants = fire_instants(fires(of_job(job), start - timedelta(milliseconds=1)), end)
    created = await svc.store.backfill(p.env_id, job_id, instants, now, actor=p.actor)
    if created:
        svc.bus.runs_ready.notify(topics(created))
        svc.bus.deadlines_changed.notify()
    return len(instants), created


async def rerun(svc: Services, p: Principal, exec_id: int) -> Run:
    """The execution's instant again, as its next attempt, due now."""
    run = await svc.store.rerun(p.env_id, exec_id, svc.clock.now(), actor=p.actor)
    svc.bus.runs_ready.notify({run.environment_id: {run.job_code}})
    svc.bus.deadlines_changed.notify()
    return run
