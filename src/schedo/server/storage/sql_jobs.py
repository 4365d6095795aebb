"""Job definitions (contract: contracts.JobStore)."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import BigInteger, bindparam, case, func, literal, select, update

from ..domain import alerts
from ..domain.alerts import success_due
from ..domain.audit import Action, Actor, Kind, job_changes
from ..domain.definitions import same
from ..domain.errors import Collision, NotFound
from ..domain.model import Health, JobStatus, JobType, RunStatus
from ..domain.records import Job, JobSpec, Run
from ..domain.timefmt import to_ms
from . import audit_rows, cascade, chain_rows, rows
from .db import Database
from .job_turns import set_columns
from .prepared import Prepared
from .schema import executions, jobs, worker_connections, worker_heartbeats

_RUN = "run_"  # prefix of the run's columns beside the job's in one row
_CONNECTIONS = "live_connections"


def _job_with_last_run() -> Any:
    """Built once: the job, its latest non-skipped run (run columns prefixed) and how many
    live workers serve it (as ``count_connections``), in one row."""
    inner = executions.alias("latest")
    latest = (
        select(func.max(inner.c.id))
        .where(inner.c.job_id == jobs.c.id, inner.c.status != RunStatus.SKIPPED.value)
        .correlate(jobs)
        .scalar_subquery()
    )
    wc, hb = worker_connections, worker_heartbeats
    live = (
        select(func.count())
        .select_from(wc.join(hb, (hb.c.environment_id == wc.c.environment_id)
                             & (hb.c.worker_id == wc.c.worker_id)))
        .where(wc.c.environment_id == jobs.c.environment_id, wc.c.job_code == jobs.c.name,
               hb.c.last_seen >= bindparam("since", type_=hb.c.last_seen.type))
        .correlate(jobs)
        .scalar_subquery()
    )
    return (
        select(jobs, *[c.label(_RUN + c.name) for c in executions.c],
               live.label(_CONNECTIONS))
        .select_from(jobs.outerjoin(executions, executions.c.id == latest))
        .where(jobs.c.id == bindparam("job_id"), jobs.c.environment_id == bindparam("env_id"))
    )


_JOB_WITH_LAST_RUN = Prepared(_job_with_last_run())  # a driver statement on SQLite
_RUN_NAMES = tuple(c.name for c in executions.c)
_RUN_FROM = len(jobs.c)
_RUN_TO = _RUN_FROM + len(_RUN_NAMES)  # then the live connections
# built once (their construction cost more than running them on a definition or a GET)
_JOB_BY_ID = select(jobs).where(jobs.c.id == bindparam("job_id"),
                                jobs.c.environment_id == bindparam("env_id"))
_JOB_BY_NAME = Prepared(select(jobs).where(jobs.c.name == bindparam("name"),
                                           jobs.c.environment_id == bindparam("env_id")))
_JOBS_OF_ENV = Prepared(
    select(jobs).where(jobs.c.environment_id == bindparam("env_id")).order_by(jobs.c.id))
# the stored job in full: the audit log's before (domain/audit.py); locked on PostgreSQL,
# so two concurrent defines of one job each record what they changed (SQLite's writers are
# serialised already)
_CURRENT_READ = select(jobs).where(
    jobs.c.environment_id == bindparam("env_id"), jobs.c.name == bindparam("name"))
_CURRENT = Prepared(_CURRENT_READ, _CURRENT_READ.with_for_update())
_UPDATE_JOB: dict[tuple[str, ...], Prepared] = {}


def _update_job(columns: tuple[str, ...]) -> Prepared:
    """``job_turns.set_columns(columns)`` returning the job: built once per set of columns (a
    driver statement on SQLite, prepared.py)."""
    got = _UPDATE_JOB.get(columns)
    if got is None:
        got = _UPDATE_JOB[columns] = Prepared(set_columns(columns).returning(*jobs.c))
    return got


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
        "alert_after_failures": spec.alert_after_failures,
        "max_duration_seconds": spec.max_duration_seconds,
        "success_within_seconds": spec.success_within_seconds,
        "pause_after_failures": spec.pause_after_failures,
        "grace_seconds": spec.grace_seconds,
        "channels": spec.channels,
        "remind_every_seconds": spec.remind_every_seconds,
        "target": spec.target,
        "jitter_seconds": spec.jitter_seconds,
        "crons": list(spec.crons) or None,
        "overlap": spec.overlap,
        "max_concurrency": spec.max_concurrency,
        "after": spec.after,
    }


def _stored_already(cur: Any, values: dict[str, Any]) -> bool:
    """Whether every column of ``values`` holds that very value in the stored row ``cur``
    (``definitions.same``: same type, JSON by its text). Then a redefinition writes nothing
    and ``updated_at`` stays (docs/api.md). The service skips the write transaction when its
    own read says so already (``definitions.redefines_nothing``); this is the check under
    the write lock, for a define that raced another."""
    stored = cur._mapping
    return all(same(stored[name], value) for name, value in values.items())


def _over(values: dict[str, Any], cur: Any, spec: JobSpec, now: datetime,
          next_run_at: datetime | None, schedule_changed: bool) -> None:
    """``values`` (``_spec_values``) with what redefining the stored row ``cur`` also moves."""
    if spec.ping_uuid is not None and cur.ping_uuid is None:
        values["ping_uuid"] = spec.ping_uuid  # kept once set: crontabs use it
    if cur.remind_every_seconds != spec.remind_every_seconds:
        values["remind_at"] = (
            alerts.remind_due(spec.remind_every_seconds, now)
            if cur.health == Health.FAILING.value else None)
    if cur.success_within_seconds != spec.success_within_seconds:
        values["success_due_at"] = success_due(
            spec.success_within_seconds, cur.last_success_at or now)
    # the caller's "changed" was judged on a read before this transaction: a concurrent
    # define of the same name may have stored this very schedule since, and re-anchoring
    # it would drop the ticks not yet made (never without a record)
    if schedule_changed and (cur.cron_expression, cur.timezone, list(cur.crons or ())
                             ) != (spec.cron_expression, spec.timezone, list(spec.crons)):
        values["anchor_at"] = now
        values["next_run_at"] = None if cur.paused else next_run_at


class JobSql:
    db: Database

    async def upsert_job(
        self,
        env_id: int,
        spec: JobSpec,
        now: datetime,
        next_run_at: datetime | None,
        schedule_changed: bool,
        actor: Actor | None = None,
    ) -> tuple[Job, bool]:
        args = (env_id, spec, now, next_run_at, schedule_changed, actor)
        for _ in range(3):  # a concurrent create of the same name: retry as an update
            try:
                return await self._upsert_once(*args)
            except Collision:
                continue
        return await self._upsert_once(*args)

    async def _upsert_once(
        self,
        env_id: int,
        spec: JobSpec,
        now: datetime,
        next_run_at: datetime | None,
        schedule_changed: bool,
        actor: Actor | None,
    ) -> tuple[Job, bool]:
        values = _spec_values(spec)
        async with self.db.write() as c:
            if spec.after is not None:  # the environment's row first (storage/locks.py)
                await chain_rows.refuse_cycle(self.db, c, env_id, spec.name, spec.after)
            cur = await _CURRENT.first(c, {"env_id": env_id, "name": spec.name})
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
                            success_due_at=success_due(spec.success_within_seconds, now),
                            ping_uuid=spec.ping_uuid,
                            **values,
                        )
                        .returning(*jobs.c)
                    )
                ).one()
                made = rows.job(r)
                await audit_rows.record(c, env_id, actor, now, Action.CREATED, Kind.JOB,
                                        made.id, made.name, job_changes(None, made))
                return made, True
            _over(values, cur, spec, now, next_run_at, schedule_changed)
            if _stored_already(cur, values):  # an identical redefinition: nothing to write
                return rows.job(cur), False
            # one statement per set of changed columns
            values["updated_at"] = now
            columns = tuple(sorted(values))
            r = await _update_job(columns).first(
                c, {"j": cur.id, **{f"v_{k}": values[k] for k in columns}})
            assert r is not None  # the row read above, locked by this write transaction
            job = rows.job(r)
            changes = job_changes(rows.job(cur), job)
            if changes:  # an identical redefinition (a worker's start) records nothing
                await audit_rows.record(c, env_id, actor, now, Action.CHANGED, Kind.JOB,
                                        job.id, job.name, changes)
            return job, False

    async def get_job(self, env_id: int, job_id: int) -> Job:
        async with self.db.read() as c:
            r = (await c.execute(_JOB_BY_ID, {"job_id": job_id, "env_id": env_id})).first()
        if r is None:
            raise NotFound(f"job {job_id} not found")
        return rows.job(r)

    async def job_with_last_run(
        self, env_id: int, job_id: int, connections_since: datetime
    ) -> tuple[Job, Run | None, int]:
        # one statement: the job, its latest non-skipped run and its live workers (the API's
        # GET /jobs/{id})
        params = {"job_id": job_id, "env_id": env_id, "since": connections_since}
        async with self.db.read() as c:
            r = await _JOB_WITH_LAST_RUN.first(c, params)
        if r is None:
            raise NotFound(f"job {job_id} not found")
        # the run's columns by position: after the job's, in the table's order
        run_values = r[_RUN_FROM:_RUN_TO]
        run = None
        if run_values[0] is not None:  # its id
            run = rows.execution(SimpleNamespace(**dict(zip(_RUN_NAMES, run_values, strict=True))))
        return rows.job(r), run, int(r[_RUN_TO])

    async def get_job_by_name(self, env_id: int, name: str) -> Job | None:
        async with self.db.read() as c:
            r = await _JOB_BY_NAME.first(c, {"name": name, "env_id": env_id})
        return None if r is None else rows.job(r)

    async def list_jobs(self, env_id: int) -> list[Job]:
        async with self.db.read() as c:
            return [rows.job(r) for r in await _JOBS_OF_ENV.all(c, {"env_id": env_id})]

    async def delete_job(
        self, env_id: int, job_id: int, actor: Actor | None = None,
        now: datetime | None = None,
    ) -> None:
        for _ in range(3):
            try:
                return await self._delete_once(env_id, job_id, actor, now)
            except Collision:
                # PostgreSQL: two deletes of one job while triggers add runs can deadlock
                # on the runs the job's delete cascades to; again, the loser finds it gone
                continue
        return await self._delete_once(env_id, job_id, actor, now)

    async def _delete_once(
        self, env_id: int, job_id: int, actor: Actor | None, now: datetime | None,
    ) -> None:
        async with self.db.write() as c:
            found = (
                await c.execute(select(jobs.c.id, jobs.c.name)
                                .where(jobs.c.id == job_id, jobs.c.environment_id == env_id))
            ).first()
            if found is None or not await cascade.delete_job(c, job_id):
                raise NotFound(f"job {job_id} not found")  # (or deleted by a racer meanwhile)
            if now is not None:
                await audit_rows.record(c, env_id, actor, now, Action.DELETED, Kind.JOB,
                                        job_id, found.name)

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
        actor: Actor | None = None,
    ) -> Job:
        values: dict[str, Any] = {"updated_at": now}
        if paused is not None:
            values["paused"] = paused
            values["next_run_at"] = None if paused else next_run_at
            values["paused_reason"] = None  # set only by a pause after failures
            if not paused:  # a fresh count: pause_after_failures more failed runs
                values["consecutive_failures"] = 0
            if not paused:  # a new window for the no-success alert starts at the resume
                values["success_due_at"] = case(
                    (jobs.c.success_within_seconds.is_(None), None),
                    else_=literal(to_ms(now), BigInteger()) + jobs.c.success_within_seconds * 1000,
                )
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
        action = (Action.CHANGED if set_webhook or (paused is None and muted is None)
                  else (Action.PAUSED if paused else Action.RESUMED) if paused is not None
                  else Action.MUTED if muted else Action.UNMUTED)
        return await self._update(env_id, job_id, values, actor, action, now)

    async def _update(
        self, env_id: int, job_id: int, values: dict[str, Any],
        actor: Actor | None = None, action: Action = Action.CHANGED,
        now: datetime | None = None,
    ) -> Job:
        async with self.db.write() as c:
            before = None
            if actor is not None:
                before = (await c.execute(self.db.for_update(_JOB_BY_ID),
                                          {"job_id": job_id, "env_id": env_id})).first()
            r = (
                await c.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.environment_id == env_id)
                    .values(**values)
                    .returning(*jobs.c)
                )
            ).first()
            if r is not None and before is not None and now is not None:
                job = rows.job(r)
                changes = job_changes(rows.job(before), job)
                if changes:  # a pause of a paused job changes nothing: no event
                    await audit_rows.record(c, env_id, actor, now, action, Kind.JOB,
                                            job.id, job.name, changes)
        if r is None:
            raise NotFound(f"job {job_id} not found")
        return rows.job(r)

    async def set_timed_pause(
        self, env_id: int, job_id: int, now: datetime, until: datetime | None,
        next_run_at: datetime | None, actor: Actor | None = None,
    ) -> Job:
        return await self._update(env_id, job_id, {
            "updated_at": now, "paused": False, "paused_until": until,
            "next_run_at": next_run_at}, actor,
            Action.PAUSED if until is not None else Action.RESUMED, now)

    async def set_skip_next(
        self, env_id: int, job_id: int, now: datetime, count: int, actor: Actor | None = None,
    ) -> Job:
        return await self._update(env_id, job_id, {"updated_at": now, "skip_next": count},
                                  actor, Action.CHANGED, now)
