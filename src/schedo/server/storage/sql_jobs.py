"""Job definitions (contract: contracts.JobStore)."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, case, func, select, update

from ..domain.errors import Collision, NotFound
from ..domain.model import JobStatus, JobType, RunStatus
from ..domain.records import Job, JobSpec, Run
from . import cascade, rows
from .db import Database
from .schema import executions, jobs

_RUN = "run_"  # prefix of the run's columns beside the job's in one row


def _job_with_last_run() -> Any:
    """Built once: the job and its latest non-skipped run in one row (run columns prefixed)."""
    inner = executions.alias("latest")
    latest = (
        select(func.max(inner.c.id))
        .where(inner.c.job_id == jobs.c.id, inner.c.status != RunStatus.SKIPPED.value)
        .correlate(jobs)
        .scalar_subquery()
    )
    return (
        select(jobs, *[c.label(_RUN + c.name) for c in executions.c])
        .select_from(jobs.outerjoin(executions, executions.c.id == latest))
        .where(jobs.c.id == bindparam("job_id"), jobs.c.environment_id == bindparam("env_id"))
    )


_JOB_WITH_LAST_RUN = _job_with_last_run()


def _spec_values(spec: JobSpec) -> dict[str, Any]:
    return {
        "type": spec.type.value,
        "cron_expression": spec.cron_expression,
        "timezone": spec.timezone,
        "catch_up": spec.catch_up.value,
        "blocking": spec.blocking,
        "timeout_seconds": spec.timeout_seconds,
        "max_retries": spec.max_retries,
        "metadata": spec.metadata,
        "webhook_url": spec.webhook_url,
        "command": spec.command,
        "jitter_seconds": spec.jitter_seconds,
        "crons": list(spec.crons) or None,
        "overlap": spec.overlap,
        "max_concurrency": spec.max_concurrency,
    }


class JobSql:
    db: Database

    async def upsert_job(
        self,
        env_id: int,
        spec: JobSpec,
        now: datetime,
        next_run_at: datetime | None,
        schedule_changed: bool,
    ) -> tuple[Job, bool]:
        for _ in range(3):  # a concurrent create of the same name: retry as an update
            try:
                return await self._upsert_once(env_id, spec, now, next_run_at, schedule_changed)
            except Collision:
                continue
        return await self._upsert_once(env_id, spec, now, next_run_at, schedule_changed)

    async def _upsert_once(
        self,
        env_id: int,
        spec: JobSpec,
        now: datetime,
        next_run_at: datetime | None,
        schedule_changed: bool,
    ) -> tuple[Job, bool]:
        values = _spec_values(spec)
        async with self.db.write() as c:
            cur = (
                await c.execute(
                    select(jobs.c.id, jobs.c.paused).where(
                        jobs.c.environment_id == env_id, jobs.c.name == spec.name
                    )
                )
            ).first()
            if cur is None:
                r = (
                    await c.execute(
                        jobs.insert()
                        .values(
                            environment_id=env_id,
                            name=spec.name,
                            anchor_at=now,
                            paused=False,
                            muted=False,
                            retry_count=0,
                            status=JobStatus.PENDING.value,
                            last_run_at=None,
                            next_run_at=next_run_at,
                            created_at=now,
                            updated_at=now,
                            **values,
                        )
                        .returning(*jobs.c)
                    )
                ).one()
                return rows.job(r), True
            if schedule_changed:
                values["anchor_at"] = now
                values["next_run_at"] = None if cur.paused else next_run_at
            r = (
                await c.execute(
                    update(jobs)
                    .where(jobs.c.id == cur.id)
                    .values(updated_at=now, **values)
                    .returning(*jobs.c)
                )
            ).one()
            return rows.job(r), False

    async def get_job(self, env_id: int, job_id: int) -> Job:
        async with self.db.read() as c:
            r = (
                await c.execute(
                    select(jobs).where(jobs.c.id == job_id, jobs.c.environment_id == env_id)
                )
            ).first()
        if r is None:
            raise NotFound(f"job {job_id} not found")
        return rows.job(r)

    async def job_with_last_run(self, env_id: int, job_id: int) -> tuple[Job, Run | None]:
        # one statement: the job and its latest non-skipped run (the API's GET /jobs/{id})
        async with self.db.read() as c:
            r = (await c.execute(_JOB_WITH_LAST_RUN, {"job_id": job_id, "env_id": env_id})
                 ).first()
        if r is None:
            raise NotFound(f"job {job_id} not found")
        m = r._mapping
        run = None
        if m[_RUN + "id"] is not None:
            run = rows.execution(SimpleNamespace(
                **{col.name: m[_RUN + col.name] for col in executions.c}))
        return rows.job(r), run

    async def get_job_by_name(self, env_id: int, name: str) -> Job | None:
        async with self.db.read() as c:
            r = (
                await c.execute(
                    select(jobs).where(jobs.c.name == name, jobs.c.environment_id == env_id)
                )
            ).first()
        return None if r is None else rows.job(r)

    async def list_jobs(self, env_id: int) -> list[Job]:
        async with self.db.read() as c:
            res = await c.execute(
                select(jobs).where(jobs.c.environment_id == env_id).order_by(jobs.c.id)
            )
            return [rows.job(r) for r in res]

    async def delete_job(self, env_id: int, job_id: int) -> None:
        async with self.db.write() as c:
            found = (
                await c.execute(
                    select(jobs.c.id).where(jobs.c.id == job_id, jobs.c.environment_id == env_id)
                )
            ).first()
            if found is None:
                raise NotFound(f"job {job_id} not found")
            await cascade.delete_job(c, job_id)

    async def update_job_flags(
        self,
        env_id: int,
        job_id: int,
        now: datetime,
        *,
        paused: bool | None = None,
        muted: bool | None = None,
        next_run_at: datetime | None = None,
        webhook_url: str | None = None,
        set_webhook: bool = False,
    ) -> Job:
        values: dict[str, Any] = {"updated_at": now}
        if paused is not None:
            values["paused"] = paused
            values["next_run_at"] = None if paused else next_run_at
            values["paused_until"] = None
        if muted is not None:
            values["muted"] = muted
        if set_webhook:
            values["webhook_url"] = webhook_url
            if webhook_url:
                values["type"] = JobType.PUSH.value
                values["command"] = None
            else:  # a command job stays one; a push job without its URL is run by workers
                values["type"] = case(
                    (jobs.c.command.is_not(None), JobType.COMMAND.value), else_=JobType.SDK.value
                )
        return await self._update(env_id, job_id, values)

    async def _update(self, env_id: int, job_id: int, values: dict[str, Any]) -> Job:
        async with self.db.write() as c:
            r = (
                await c.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.environment_id == env_id)
                    .values(**values)
                    .returning(*jobs.c)
                )
            ).first()
        if r is None:
            raise NotFound(f"job {job_id} not found")
        return rows.job(r)

    async def set_timed_pause(
        self, env_id: int, job_id: int, now: datetime, until: datetime | None,
        next_run_at: datetime | None,
    ) -> Job:
        return await self._update(env_id, job_id, {
            "updated_at": now, "paused": False, "paused_until": until,
            "next_run_at": next_run_at})

    async def set_skip_next(self, env_id: int, job_id: int, now: datetime, count: int) -> Job:
        return await self._update(env_id, job_id, {"updated_at": now, "skip_next": count})
