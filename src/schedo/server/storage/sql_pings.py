"""Heartbeat jobs' pings (contract: contracts.PingStore). What a ping does is decided by
``domain/pings.py`` and ``domain/lifecycle.py``; this module reads the job's waiting and
running runs (locked), asks, and writes the answer with the usual bookkeeping of an end
(``run_rows.after_end``) in one transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from ..domain import lifecycle, pings
from ..domain.errors import NotFound
from ..domain.model import JobType, RunStatus, Source, Trigger
from ..domain.pings import Ping, PingKind
from ..domain.records import Job, Run
from . import rows
from .db import Conn, Database
from .run_rows import after_end, as_dt, draft_row, insert_runs, is_active, mirror_on_jobs
from .schema import environments, executions, jobs

_HEARTBEAT = JobType.HEARTBEAT.value


class PingSql:
    db: Database

    async def ensure_ping_key(self, env_id: int, candidate: str) -> str:
        async with self.db.write() as c:
            await c.execute(
                update(environments)
                .where(environments.c.id == env_id, environments.c.ping_key.is_(None))
                .values(ping_key=candidate)
            )
            key = (await c.execute(select(environments.c.ping_key)
                                   .where(environments.c.id == env_id))).scalar_one_or_none()
        if key is None:
            raise NotFound(f"environment {env_id} not found")
        return str(key)

    async def ping_key(self, env_id: int) -> str | None:
        async with self.db.read() as c:
            v = (await c.execute(select(environments.c.ping_key)
                                 .where(environments.c.id == env_id))).scalar_one_or_none()
        return None if v is None else str(v)

    async def find_ping_job(
        self, *, uuid: str | None = None, ping_key: str | None = None, name: str | None = None
    ) -> Job | None:
        q = select(jobs).where(jobs.c.type == _HEARTBEAT)
        if uuid is not None:
            q = q.where(jobs.c.ping_uuid == uuid)
        elif ping_key is not None and name is not None:
            q = q.join(environments, environments.c.id == jobs.c.environment_id).where(
                environments.c.ping_key == ping_key, jobs.c.name == name)
        else:
            return None
        async with self.db.read() as c:
            r = (await c.execute(q.limit(1))).first()
        return None if r is None else rows.job(r)

    async def record_ping(self, env_id: int, job_id: int, ping: Ping, now: datetime
                          ) -> Run | None:
        async with self.db.write() as c:
            r = (await c.execute(self.db.for_update(select(jobs).where(
                jobs.c.id == job_id, jobs.c.environment_id == env_id,
                jobs.c.type == _HEARTBEAT)))).first()
            if r is None:
                raise NotFound(f"job {job_id} not found")
            job = rows.job(r)
            q = (select(executions)
                 .where(executions.c.job_id == job.id, is_active())
                 .order_by(executions.c.id))
            live = [rows.execution(x) for x in await c.execute(self.db.for_update(q))]
            run = pings.target(live, ping)
            if ping.kind is PingKind.LOG:
                if run is not None:
                    await c.execute(update(executions).where(executions.c.id == run.id).values(
                        output=pings.append_log(run.output, ping.body)))
                return run
            if run is None:
                run = await self._new_run(c, job, now)
            if ping.kind is PingKind.START:
                return await self._start(c, job, run, ping, now)
            return await self._end(c, run, ping, now)

    async def _new_run(self, c: Conn, job: Job, now: datetime) -> Run:
        """The upcoming tick's run (an early ping), else a run of its own made now."""
        at = pings.upcoming(job.next_run_at, now)
        if at is not None:
            d = lifecycle.draft(job, status=RunStatus.PENDING, source=Source.SCHEDULE,
                                scheduled_for=at, trigger=Trigger.SCHEDULE, due_at=at, now=now)
            made = (await c.execute(insert_runs(self.db), [draft_row(d)])).first()
            if made is not None:
                return rows.execution(made)
        last = as_dt((await c.execute(
            select(func.max(executions.c.scheduled_for))
            .where(executions.c.job_id == job.id, executions.c.source == Source.MANUAL.value)
        )).scalar_one_or_none())
        d = replace(lifecycle.manual_run(replace(job, blocking=False), last, now, False),
                    trigger=Trigger.PING)
        made = (await c.execute(insert_runs(self.db), [draft_row(d)])).one()
        await c.execute(update(jobs).where(jobs.c.id == job.id).values(last_run_at=now))
        return rows.execution(made)

    async def _start(self, c: Conn, job: Job, run: Run, ping: Ping,
                     now: datetime) -> Run:
        meta = pings.start_metadata(run, ping)
        started = lifecycle.transition(
            run, RunStatus.RUNNING, pick_up_time=now, start_time=now,
            run_deadline=pings.start_deadline(job, now), metadata=meta)
        await c.execute(update(executions).where(executions.c.id == run.id).values(
            status=started.status.value, pick_up_time=now, start_time=now,
            run_deadline=started.run_deadline, metadata=meta))
        await mirror_on_jobs(self.db, c, [started])
        return started

    async def _end(self, c: Conn, run: Run, ping: Ping, now: datetime) -> Run:
        done, changed = lifecycle.end_run(run, pings.report(ping, run, now), now)
        if changed:
            await c.execute(update(executions).where(executions.c.id == run.id).values(
                **_ended_values(done)))
            await after_end(self.db, c, [done], now)
        return done


def _ended_values(e: Run) -> dict[str, Any]:
    return {"status": e.status.value, "start_time": e.start_time, "end_time": e.end_time,
            "duration": e.duration, "output": e.output, "error": e.error,
            "exit_code": e.exit_code}
