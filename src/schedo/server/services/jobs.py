"""Job use cases: define (create-or-update by name), read, pause/resume, mute, webhook,
trigger, delete. Each wakes the loops that care."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..domain import definitions
from ..domain.cron import NEVER
from ..domain.errors import InvalidInput
from ..domain.explain import Explanation
from ..domain.explain import explain as explain_at
from ..domain.hashed import seed_of
from ..domain.records import Job, JobSpec, Run
from ..domain.schedules import next_or_none, of_job, schedule_of
from . import chains, channels, controls, validation
from .connections import window as connections_window
from .context import Principal, Services


def next_fire(spec: JobSpec, anchor: datetime, after: datetime, seed: str) -> datetime | None:
    """The first instant of the definition's schedule after ``after`` (None: none left)."""
    sched = schedule_of(spec.cron_expression, spec.crons, spec.timezone, anchor, seed)
    return next_or_none(sched, after)


async def define(svc: Services, p: Principal, body: dict[str, Any]) -> Job:
    spec = validation.definition(
        name=body["name"],
        schedule_expr=body["schedule"],
        timezone=body.get("timezone"),
        blocking=body.get("blocking"),
        metadata_value=body.get("metadata"),
        timeout_seconds=validation.timeout_field(body.get("timeout_seconds"), body.get("timeout")),
        webhook=body.get("webhook_url"),
        retries=body.get("max_retries"),
        catch_up_value=body.get("catch_up"),
        command=body.get("command"),
        allow_private=svc.settings.allow_private_webhooks,
        target_value=body.get("target"),
        seed=seed_of(p.env_id, body["name"]),
        jitter=body.get("jitter_seconds"),
        crons=body.get("crons"),
        overlap=body.get("overlap"),
        max_concurrency=body.get("max_concurrency"),
    )
    spec = replace(spec, **validation.alert_rules(body))
    spec = validation.job_type(spec, body, str(uuid.uuid4()))
    spec = replace(spec, channels=await channels.job_channels(svc, p, body.get("channels")))
    spec = replace(spec, after=await chains.checked_after(svc, p, spec.name, spec.type,
                                                        body.get("after")))
    now = svc.clock.now()
    wanted = controls.from_definition(body, now)
    existing = await svc.store.get_job_by_name(p.env_id, spec.name)
    if existing is not None and definitions.redefines_nothing(existing, spec):
        # every worker's start: answered from this read, nothing written (docs/api.md, Jobs)
        job, changed = existing, False
    else:
        job, changed = await _store_definition(svc, p, spec, existing, wanted, now)
    if spec.ping_uuid is not None:  # the environment's slug ping URLs need its ping key
        await svc.store.ensure_ping_key(p.env_id, secrets.token_urlsafe(16))
    if changed:
        svc.bus.jobs_changed.notify()
    return await controls.apply(svc, p, job, wanted, now)


async def _store_definition(svc: Services, p: Principal, spec: JobSpec, existing: Job | None,
                            wanted: controls.Controls, now: datetime) -> tuple[Job, bool]:
    """The create or update of ``spec``, with its next fire (recomputed only when the
    schedule changed); whether the schedule changed."""
    changed = (
        existing is None
        or existing.cron_expression != spec.cron_expression
        or existing.timezone != spec.timezone
        or existing.crons != spec.crons
    )
    anchor = now if changed or existing is None else existing.anchor_at
    until = wanted.until if wanted.set_until else existing.paused_until if existing else None
    nra = next_fire(spec, anchor, controls.first_tick_after(until, now),
                    seed_of(p.env_id, spec.name))
    if (changed and spec.cron_expression.strip().lower() != NEVER
            and next_fire(spec, anchor, now, seed_of(p.env_id, spec.name)) is None):
        raise InvalidInput("schedule: has no fire instant after now (an @at in the past?)")
    job, _created = await svc.store.upsert_job(p.env_id, spec, now, nra, changed,
                                               actor=p.actor)
    return job, changed


async def get(svc: Services, p: Principal, job_id: int) -> Job:
    return await svc.store.get_job(p.env_id, job_id)


async def find_by_name(svc: Services, p: Principal, name: str) -> Job | None:
    """The job of that name in the key's environment, or None."""
    return await svc.store.get_job_by_name(p.env_id, name)


async def list_all(svc: Services, p: Principal) -> list[Job]:
    return await svc.store.list_jobs(p.env_id)


async def connections(svc: Services, p: Principal, jobs: list[Job]) -> dict[str, int]:
    """Worker connections now serving each job, by job name."""
    return await svc.connections.counts(p.env_id, [j.name for j in jobs], svc.clock.now())


async def delete(svc: Services, p: Principal, job_id: int) -> None:
    await svc.store.delete_job(p.env_id, job_id, actor=p.actor, now=svc.clock.now())
    svc.bus.jobs_changed.notify()


async def pause(svc: Services, p: Principal, job_id: int) -> Job:
    job = await svc.store.update_job_flags(p.env_id, job_id, svc.clock.now(), paused=True,
                                          actor=p.actor)
    svc.bus.jobs_changed.notify()
    return job


async def resume(svc: Services, p: Principal, job_id: int) -> Job:
    job = await svc.store.get_job(p.env_id, job_id)
    if not job.paused and job.paused_until is None:
        return job
    now = svc.clock.now()
    nra = next_or_none(of_job(job), now)
    job = await svc.store.update_job_flags(p.env_id, job_id, now, paused=False, next_run_at=nra,
                                          actor=p.actor)
    svc.bus.jobs_changed.notify()
    return job


async def mute(svc: Services, p: Principal, job_id: int, muted: bool) -> Job:
    return await svc.store.update_job_flags(p.env_id, job_id, svc.clock.now(), muted=muted,
                                            actor=p.actor)


async def set_webhook(svc: Services, p: Principal, job_id: int, url: str | None) -> Job:
    if url is not None and url != "":
        url = validation.webhook_url(url, allow_private=svc.settings.allow_private_webhooks)
    return await svc.store.update_job_flags(
        p.env_id, job_id, svc.clock.now(), webhook_url=url or None, set_webhook=True,
        actor=p.actor,
    )


async def trigger(
    svc: Services, p: Principal, job_id: int, payload: dict[str, Any] | None = None
) -> Run:
    """A manual run now, carrying ``payload`` (a JSON object, 64 KiB at most) if given."""
    ex = await svc.store.trigger(p.env_id, job_id, svc.clock.now(),
                                 validation.payload(payload), actor=p.actor)
    svc.bus.runs_ready.notify({ex.environment_id: {ex.job_code}})
    svc.bus.deadlines_changed.notify()
    return ex


async def with_last_run(
    svc: Services, p: Principal, job_id: int
) -> tuple[Job, Run | None, int]:
    """The job, the run its page shows (its latest that is not skipped) and its worker
    connections (as ``connections`` counts them), in one read."""
    since = svc.clock.now() - connections_window()
    return await svc.store.job_with_last_run(p.env_id, job_id, since)


async def last_run(svc: Services, p: Principal, job_id: int) -> Run | None:
    return await svc.store.last_run(p.env_id, job_id)


async def explain(svc: Services, p: Principal, job_id: int, at: datetime) -> Explanation:
    """Whether the job's schedule fires at ``at`` and what happened or will happen there
    (``domain/explain.py``)."""
    job = await svc.store.get_job(p.env_id, job_id)
    runs, oldest = await svc.store.runs_from(p.env_id, job_id, at.replace(microsecond=0))
    return explain_at(job, at, svc.clock.now(), runs, oldest,
                      svc.settings.misfire_grace_seconds)
