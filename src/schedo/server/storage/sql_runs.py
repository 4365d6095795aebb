"""Executions: history, manual triggers, reports, claims (contracts: ExecutionStore,
ClaimStore). The rules of a run's life are in ``domain/lifecycle.py``; the scheduler's batch
writes are in ``sql_schedule.py``; the bookkeeping every end of a run brings (job status,
health turns, retries) is ``run_rows.after_end``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    bindparam,
    func,
    literal,
    select,
    update,
)

from ..domain import lifecycle, policies
from ..domain.audit import Action, Actor, Kind
from ..domain.errors import Collision, Conflict, NotFound
from ..domain.model import RunStatus, Source
from ..domain.records import Completion, Run
from ..domain.targets import AgentMatch
from ..domain.timefmt import to_ms
from . import audit_rows, claim_sql, rows, run_views
from .claim_filters import access_alive, codes_filter, target_filter, types_filter
from .db import Conn, Database
from .driver_many import DriverMany, ms_or_none
from .run_rows import (
    after_end,
    as_dt,
    draft_row,
    job_in_env,
    manual_drafts,
    mirror_on_jobs,
)
from .schema import environments, executions, jobs
from .sealing import Sealer


class RunSql:
    db: Database
    sealer: Sealer

    # -- reads ---------------------------------------------------------------------------------
    async def list_executions(
        self, env_id: int, job_id: int, cursor: int | None, limit: int
    ) -> list[Run]:
        async with self.db.read() as c:
            await job_in_env(c, env_id, job_id)
            if cursor is None:
                res = await c.execute(_HISTORY, {"job_id": job_id, "limit": limit})
            else:
                res = await c.execute(_HISTORY_BELOW, {"job_id": job_id, "limit": limit,
                                                       "cursor": cursor})
            return [rows.execution(r) for r in res]

    async def run_views(
        self, env_id: int, job_id: int, cursor: int | None, limit: int
    ) -> list[Sequence[Any]]:
        params = {"job_id": job_id, "env_id": env_id, "limit": limit}
        async with self.db.read() as c:
            if cursor is None:
                got = await run_views.VIEW.all(c, params)
            else:
                got = await run_views.VIEW_BELOW.all(c, {**params, "cursor": cursor})
        if not got:
            raise NotFound(f"job {job_id} not found")
        return [r[1:] for r in got if r[1] is not None]

    async def get_execution(self, env_id: int, exec_id: int) -> Run:
        async with self.db.read() as c:
            return await _get_exec(c, env_id, exec_id)

    async def last_run(self, env_id: int, job_id: int) -> Run | None:
        async with self.db.read() as c:
            r = (
                await c.execute(
                    select(executions)
                    .where(
                        executions.c.job_id == job_id,
                        executions.c.environment_id == env_id,
                        executions.c.status != RunStatus.SKIPPED.value,
                    )
                    .order_by(executions.c.id.desc())
                    .limit(1)
                )
            ).first()
        return None if r is None else rows.execution(r)

    # -- manual trigger and completion ---------------------------------------------------------
    async def trigger(
        self, env_id: int, job_id: int, now: datetime, payload: dict[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> Run:
        for _ in range(5):
            try:
                return await self._trigger_once(env_id, job_id, now, payload, actor)
            except Collision:  # a concurrent trigger took the same instant: take the next
                continue
        return await self._trigger_once(env_id, job_id, now, payload, actor)

    async def _trigger_once(
        self, env_id: int, job_id: int, now: datetime, payload: dict[str, Any] | None,
        actor: Actor | None,
    ) -> Run:
        async with self.db.write() as c:
            # the job's row first: a blocking job's "no run active" check and this insert
            # hold together against a concurrent trigger (storage/locks.py)
            job = await job_in_env(c, env_id, job_id, lock=self.db)
            last = as_dt((await c.execute(
                select(func.max(executions.c.scheduled_for))
                .where(executions.c.job_id == job.id,
                       executions.c.source == Source.MANUAL.value)
            )).scalar_one_or_none())
            drafts = await manual_drafts(c, job, last, now, payload)
            made = sorted((rows.execution(x) for x in await c.execute(
                executions.insert().returning(*executions.c),
                [draft_row(d) for d in drafts])), key=lambda e: e.id)
            status, retry_count, last_run_at = lifecycle.trigger_mirror(now)
            await c.execute(
                update(jobs)
                .where(jobs.c.id == job.id)
                .values(status=status.value, retry_count=retry_count, last_run_at=last_run_at)
            )
            await audit_rows.record(c, env_id, actor, now, Action.TRIGGERED, Kind.JOB, job.id,
                                    job.name, {"run_id": [None, made[0].id]})
            return made[0]  # mode "all": the others are in the job's runs

    async def complete(
        self, env_id: int, exec_id: int, report: Completion, now: datetime
    ) -> tuple[Run, bool]:
        [(_, result)] = await self.complete_many(env_id, [(exec_id, report)], now)
        if isinstance(result, Exception):
            raise result
        return result

    async def complete_many(
        self, env_id: int, reports: Sequence[tuple[int, Completion]], now: datetime
    ) -> list[tuple[int, tuple[Run, bool] | NotFound | Conflict]]:
        """One read of every reported run (locked on PostgreSQL), the decisions in Python,
        one batched UPDATE: a burst of reports costs a few statements, not two per report.
        The write transaction (SQLite) or the row locks (PostgreSQL) keep each status stable
        between the read and the update, so the update needs no compare-and-swap."""
        out: list[tuple[int, tuple[Run, bool] | NotFound | Conflict]] = []
        async with self.db.write() as c:
            wanted = sorted({exec_id for exec_id, _ in reports})
            current: dict[int, Run] = {}
            read = claim_sql.reported_statement(self.db)
            for i in range(0, len(wanted), 500):
                rows_ = await read.all(c, {"ids": self.db.among_value(wanted[i : i + 500]),
                                           "env": env_id})
                current.update((e.id, e) for e in map(rows.full_execution, rows_))
            ended: list[Run] = []
            for exec_id, report in reports:
                ex = current.get(exec_id)
                if ex is None:
                    out.append((exec_id, NotFound(f"execution {exec_id} not found")))
                    continue
                try:
                    done, changed = lifecycle.end_run(ex, report, now)
                except Conflict as exc:
                    out.append((exec_id, exc))
                    continue
                current[exec_id] = done
                out.append((exec_id, (done, changed)))
                if changed:
                    ended.append(done)
            if ended:
                await _END_RUN.run(self.db, c, [_end_params(e) for e in ended])
                await after_end(self.db, c, ended, now)
        return out

    # -- claims ------------------------------------------------------------------------------
    async def claim(
        self, env_id: int, codes: Sequence[str] | None, types: Sequence[str], now: datetime,
        limit: int,
        key_id: int | None = None,
        worker: str | None = None,
        agent: AgentMatch | None = None,
    ) -> list[Run]:
        if (codes is not None and not codes) or limit <= 0:
            return []
        if agent is None:  # every worker pull: statements built once (claim_sql.py)
            return await self._claim_cached(env_id, codes, types, now, limit, key_id, worker)
        async with self.db.write() as c:
            q = (
                select(executions.c.id)
                .where(
                    executions.c.status == RunStatus.PENDING.value,
                    executions.c.environment_id == env_id,
                    codes_filter(self.db, codes),
                    executions.c.due_at <= now,
                    types_filter(self.db, codes, types),
                    target_filter(types, agent),
                )
                .order_by(executions.c.due_at, executions.c.id)
                .limit(limit)
            )
            if key_id is not None:
                q = q.where(access_alive(key_id, env_id))
            return await self._mark_running(c, self.db.skip_locked(q), now, worker)

    async def _claim_cached(
        self, env_id: int, codes: Sequence[str] | None, types: Sequence[str], now: datetime,
        limit: int, key_id: int | None, worker: str | None,
    ) -> list[Run]:
        stmt = claim_sql.claim_statement(self.db, codes, types, key_id is not None)
        params = claim_sql.claim_params(self.db, env_id, codes, now, limit, key_id, worker)
        if self.db.claims_alone:  # PostgreSQL: the claim and its mirror one statement
            async with self.db.one_statement() as c:
                got = await claim_sql.run_claim(c, stmt, params)
            return sorted(map(rows.full_execution, got), key=lambda e: (e.due_at, e.id))
        window = claim_sql.window_statement(self.db, codes, types, key_id is not None)
        async with self.db.write() as c:
            got = []
            if window is not None:  # many codes, SQLite: the earliest runs first (claim_sql)
                got = await claim_sql.run_claim(
                    c, window, {**params, "window": claim_sql.window_size(limit)})
            if len(got) < limit:
                got += await claim_sql.run_claim(c, stmt, {**params, "limit": limit - len(got)})
            claimed = sorted(map(rows.full_execution, got), key=lambda e: (e.due_at, e.id))
            await claim_sql.mirror_claimed(self.db, c, [e.id for e in claimed])
        return claimed

    async def _mark_running(
        self, c: Conn, pick: Any, now: datetime, worker: str | None = None
    ) -> list[Run]:
        now_ms = literal(to_ms(now), BigInteger())
        res = await c.execute(
            update(executions)
            .where(executions.c.id.in_(self.db.picked(pick)),
                   executions.c.status == RunStatus.PENDING.value)
            .values(
                status=RunStatus.RUNNING.value,
                pick_up_time=now,
                start_time=now,
                run_deadline=now_ms + (executions.c.timeout_seconds
                                       + policies.RUN_GRACE_SECONDS) * 1000,
                worker=worker,
            )
            .returning(*executions.c)
        )
        claimed = sorted((rows.execution(r) for r in res), key=lambda e: (e.due_at, e.id))
        await mirror_on_jobs(self.db, c, claimed)
        return claimed

    async def release(self, env_id: int, ids: Sequence[int], now: datetime) -> list[Run]:
        if not ids:
            return []
        async with self.db.write() as c:
            q = select(executions).where(
                executions.c.id.in_(list(ids)),
                executions.c.environment_id == env_id,
                executions.c.status == RunStatus.RUNNING.value,
            ).order_by(executions.c.id)
            held = [rows.execution(r) for r in await c.execute(self.db.for_update(q))]
            released = [lifecycle.release(e, now) for e in held]
            if not released:
                return []
            await c.execute(_RELEASED, [{"i": e.id, "d": e.pickup_deadline} for e in released])
            await mirror_on_jobs(self.db, c, released)
            return released

    async def claim_any(
        self, types: Sequence[str], now: datetime, limit: int
    ) -> list[tuple[Run, str | None, str]]:
        if limit <= 0:
            return []
        stmt = claim_sql.claim_any_statement(self.db, types)
        params = claim_sql.claim_params(self.db, None, None, now, limit, None, None)
        async with self.db.write() as c:
            claimed = sorted(map(rows.full_execution, await claim_sql.run_claim(c, stmt, params)),
                             key=lambda e: (e.due_at, e.id))
            if not claimed:
                return []
            await claim_sql.mirror_claimed(self.db, c, [e.id for e in claimed])
            res = await c.execute(
                select(jobs.c.id, jobs.c.webhook_url, environments.c.webhook_signature_key,
                       environments.c.id.label("env_id"))
                .join(environments, environments.c.id == jobs.c.environment_id)
                .where(jobs.c.id.in_({e.job_id for e in claimed}))
            )
            targets = {
                r.id: (r.webhook_url, self.sealer.signing_key(r.webhook_signature_key, r.env_id))
                for r in res
            }
            return [(e, *targets.get(e.job_id, (None, ""))) for e in claimed]

    async def earliest_due_of_types(self, types: Sequence[str]) -> datetime | None:
        async with self.db.read() as c:
            v = (await c.execute(claim_sql.earliest_due_statement(types))).scalar_one_or_none()
        return as_dt(v)

    async def earliest_pending_due(
        self, env_id: int, codes: Sequence[str] | None, types: Sequence[str],
        agent: AgentMatch | None = None,
    ) -> datetime | None:
        if codes is not None and not codes:
            return None
        async with self.db.read() as c:
            v = (
                await c.execute(
                    select(func.min(executions.c.due_at)).where(
                        executions.c.status == RunStatus.PENDING.value,
                        executions.c.environment_id == env_id,
                        codes_filter(self.db, codes),
                        types_filter(self.db, codes, types),
                        target_filter(types, agent),
                    )
                )
            ).scalar_one_or_none()
        return as_dt(v)




# built once: a job's runs, newest first, below a cursor (statement construction cost more
# than running it on GET /jobs/executions/{id})
_HISTORY = (
    select(executions)
    .where(executions.c.job_id == bindparam("job_id"))
    .order_by(executions.c.id.desc())
    .limit(bindparam("limit"))
)
_HISTORY_BELOW = _HISTORY.where(executions.c.id < bindparam("cursor"))


_END_RUN = DriverMany(
    update(executions)
    .where(executions.c.id == bindparam("i"))
    .values(
        status=bindparam("st"),
        start_time=bindparam("s", type_=executions.c.start_time.type),
        end_time=bindparam("e", type_=executions.c.end_time.type),
        duration=bindparam("d"),
        output=bindparam("o"),
        error=bindparam("er"),
        exit_code=bindparam("x"),
    ),
    ("i", "st", "s", "e", "d", "o", "er", "x"),
)
_RELEASED = (
    update(executions)
    .where(executions.c.id == bindparam("i"), executions.c.status == RunStatus.RUNNING.value)
    .values(status=RunStatus.PENDING.value, pick_up_time=None, start_time=None,
            run_deadline=None, worker=None,
            pickup_deadline=bindparam("d", type_=executions.c.pickup_deadline.type))
)


def _end_params(e: Run) -> tuple[Any, ...]:
    return (e.id, e.status.value, ms_or_none(e.start_time), ms_or_none(e.end_time),
            e.duration, e.output, e.error, e.exit_code)



async def _get_exec(c: Conn, env_id: int, exec_id: int) -> Run:
    r = (
        await c.execute(
            select(executions).where(
                executions.c.id == exec_id, executions.c.environment_id == env_id
            )
        )
    ).first()
    if r is None:
        raise NotFound(f"execution {exec_id} not found")
    return rows.execution(r)
