"""Backfill and re-run (contract: contracts.replay.ReplayStore)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from ..domain import backfill as rules
from ..domain.audit import Action, Actor, Kind
from ..domain.errors import Collision, NotFound
from ..domain.model import Source
from ..domain.records import Run
from . import audit_rows, rows
from .db import Database
from .run_rows import ACTIVE_VALUES, draft_row, insert_runs, job_in_env
from .schema import executions


class ReplaySql:
    db: Database

    async def backfill(
        self, env_id: int, job_id: int, instants: Sequence[datetime], now: datetime,
        actor: Actor | None = None,
    ) -> list[Run]:
        async with self.db.write() as c:
            job = await job_in_env(c, env_id, job_id)
            have: set[datetime] = set()
            for i in range(0, len(instants), 500):  # under every driver's parameter limit
                have.update(r[0] for r in await c.execute(select(executions.c.scheduled_for).where(
                    executions.c.job_id == job.id, executions.c.source == Source.SCHEDULE.value,
                    executions.c.attempt == 1,
                    executions.c.scheduled_for.in_(list(instants[i:i + 500])))))
            # the insert skips what a concurrent tick made meanwhile (the unique key)
            drafts = rules.backfill_runs(job, [t for t in instants if t not in have], now)
            if not drafts:
                return []
            res = await c.execute(insert_runs(self.db), [draft_row(d) for d in drafts])
            made = sorted((rows.execution(r) for r in res), key=lambda e: e.scheduled_for)
            if made:
                await audit_rows.record(c, env_id, actor, now, Action.BACKFILLED, Kind.JOB,
                                        job.id, job.name, {"runs": [None, len(made)]})
            return made

    async def rerun(
        self, env_id: int, exec_id: int, now: datetime, actor: Actor | None = None,
    ) -> Run:
        for _ in range(5):
            try:
                return await self._rerun_once(env_id, exec_id, now, actor)
            except Collision:  # a concurrent re-run took the attempt: take the next
                continue
        return await self._rerun_once(env_id, exec_id, now, actor)

    async def _rerun_once(
        self, env_id: int, exec_id: int, now: datetime, actor: Actor | None,
    ) -> Run:
        async with self.db.write() as c:
            r = (await c.execute(select(executions).where(
                executions.c.id == exec_id, executions.c.environment_id == env_id))).first()
            if r is None:
                raise NotFound(f"execution {exec_id} not found")
            ex = rows.execution(r)
            job = await job_in_env(c, env_id, ex.job_id)
            same = (executions.c.job_id == ex.job_id,
                    executions.c.source == ex.source.value,
                    executions.c.scheduled_for == ex.scheduled_for)
            last, live = (await c.execute(select(
                func.max(executions.c.attempt),
                func.count().filter(executions.c.status.in_(ACTIVE_VALUES)),
            ).where(*same))).one()
            d = rules.rerun_of(ex, job, int(last), bool(live), now)
            new = (await c.execute(
                executions.insert().values(**draft_row(d)).returning(*executions.c))).one()
            await audit_rows.record(c, env_id, actor, now, Action.RERUN, Kind.JOB, job.id,
                                    job.name, {"run_id": [exec_id, new.id]})
            return rows.execution(new)
