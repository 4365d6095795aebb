"""Executions and the scheduler's batch writes (contracts: ExecutionStore, SchedulerStore)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    and_,
    bindparam,
    exists,
    func,
    literal,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import policies
from ..domain.errors import Conflict, NotFound
from ..domain.model import ACTIVE, ExecStatus, JobStatus, Trigger
from ..domain.records import Completion, Execution, Job
from ..domain.timefmt import from_ms, to_ms
from . import rows
from .contracts import Planner, TickResult
from .db import Database
from .schema import api_keys, environments, executions, jobs, notifications
from .sealing import Sealer

ACTIVE_VALUES = [s.value for s in ACTIVE]
BLOCKED_ERROR = "skipped: the previous run of this blocking job is still pending or running"
REAP_BATCH = 1000


def _exec_row(
    job: Job,
    *,
    status: ExecStatus,
    source: str,
    scheduled_for: datetime,
    attempt: int,
    trigger: Trigger,
    due_at: datetime,
    now: datetime,
    error: str | None = None,
    metadata: dict[str, Any] | None = None,
    window_from: datetime | None = None,
) -> dict[str, Any]:
    """One execution row. The pick-up window starts at ``due_at`` unless ``window_from``
    says otherwise (a caught-up tick: when it was created)."""
    live = status is ExecStatus.PENDING
    return {
        "job_id": job.id,
        "environment_id": job.environment_id,
        "job_code": job.name,
        "job_type": job.type.value,
        "status": status.value,
        "source": source,
        "scheduled_for": scheduled_for,
        "attempt": attempt,
        "trigger": trigger.value,
        "due_at": due_at,
        "pickup_deadline": (
            policies.pickup_deadline(window_from or due_at, job.timeout_seconds)
            if live else None
        ),
        "run_deadline": None,
        "timeout_seconds": job.timeout_seconds,
        "pick_up_time": None,
        "start_time": None,
        "end_time": None if live else now,
        "duration": None,
        "output": None,
        "error": error,
        "exit_code": None,
        "metadata": job.metadata if metadata is None else metadata,
        "created_at": now,
    }


async def _refresh_job_status(c: AsyncConnection, ended: Sequence[Execution]) -> None:
    """Mirror each ended execution on its job, if it is still the job's latest non-skipped
    execution (a later run owns the status otherwise)."""
    if not ended:
        return
    later = exists().where(
        executions.c.job_id == bindparam("j"),
        executions.c.id > bindparam("e"),
        executions.c.status != ExecStatus.SKIPPED.value,
    )
    stmt = (
        update(jobs)
        .where(jobs.c.id == bindparam("j"), ~later)
        .values(status=bindparam("s"), retry_count=bindparam("rc"))
    )
    params = [
        {"j": e.job_id, "e": e.id, "s": e.status.job_status.value, "rc": e.attempt - 1}
        for e in ended
        if e.status is not ExecStatus.SKIPPED
    ]
    if params:
        await c.execute(stmt, params)


NOTIFY_OUTPUT_HEAD = 2000


async def _track_health(
    db: Database, c: AsyncConnection, ended: Sequence[Execution], now: datetime
) -> None:
    """Turn detection for notifications (SPEC 4), in the transaction that ended the runs.

    A job turns *failing* on a failed or expired run when it was not failing (after a success,
    or its first run ever), and *recovered* on a completed run while failing. Each turn of an
    unmuted job writes one outbox row (notifications); runs that do not turn write nothing.
    A failed or expired attempt that its job will retry (``attempt <= max_retries``) is not a
    run's end: it changes nothing, so a retry that succeeds sends no mail at all.
    """
    relevant = [e for e in ended if e.status in (ExecStatus.COMPLETED, ExecStatus.FAILED,
                                                 ExecStatus.EXPIRED)]
    if not relevant:
        return
    res = await c.execute(
        select(jobs.c.id, jobs.c.health, jobs.c.muted, jobs.c.max_retries,
               environments.c.organization_id)
        .join(environments, environments.c.id == jobs.c.environment_id)
        .where(jobs.c.id.in_({e.job_id for e in relevant}))
    )
    state = {r.id: [r.health, bool(r.muted), r.organization_id, r.max_retries] for r in res}
    turns: list[dict[str, Any]] = []
    health_updates: dict[int, str] = {}
    for e in relevant:
        if e.job_id not in state:
            continue
        health, muted, org_id, retries = state[e.job_id]
        failing = e.status is not ExecStatus.COMPLETED
        if failing and policies.will_retry(e.attempt, retries):
            continue  # not the run's last word: its retry decides
        new = "failing" if failing else "ok"
        if new == health:
            continue
        state[e.job_id][0] = new
        kind = "failing" if failing else ("recovered" if health == "failing" else None)
        health_updates[e.job_id] = new
        if kind is None or muted:
            continue
        turns.append({
            "organization_id": org_id, "environment_id": e.environment_id,
            "job_id": e.job_id, "job_name": e.job_code, "kind": kind,
            "execution_id": e.id, "execution_status": e.status.value, "attempt": e.attempt,
            "scheduled_for": e.scheduled_for, "error": e.error,
            "output": (e.output or "")[:NOTIFY_OUTPUT_HEAD] or None,
            "fanned_out": False, "created_at": now,
        })
    if health_updates:
        await c.execute(
            update(jobs).where(jobs.c.id == bindparam("j")).values(health=bindparam("h")),
            [{"j": j, "h": h} for j, h in health_updates.items()],
        )
    if turns:  # a turn is recorded once per run, whatever replays the end
        await c.execute(
            db.insert(notifications).on_conflict_do_nothing(
                index_elements=["execution_id", "kind"]
            ),
            turns,
        )


class RunSql:
    db: Database
    sealer: Sealer

    # -- reads ---------------------------------------------------------------------------------
    async def list_executions(
        self, env_id: int, job_id: int, cursor: int | None, limit: int
    ) -> list[Execution]:
        async with self.db.read() as c:
            await _job_in_env(c, env_id, job_id)
            q = select(executions).where(executions.c.job_id == job_id)
            if cursor is not None:
                q = q.where(executions.c.id < cursor)
            res = await c.execute(q.order_by(executions.c.id.desc()).limit(limit))
            return [rows.execution(r) for r in res]

    async def get_execution(self, env_id: int, exec_id: int) -> Execution:
        async with self.db.read() as c:
            return await _get_exec(c, env_id, exec_id)

    async def last_run(self, env_id: int, job_id: int) -> Execution | None:
        async with self.db.read() as c:
            r = (
                await c.execute(
                    select(executions)
                    .where(
                        executions.c.job_id == job_id,
                        executions.c.environment_id == env_id,
                        executions.c.status != ExecStatus.SKIPPED.value,
                    )
                    .order_by(executions.c.id.desc())
                    .limit(1)
                )
            ).first()
        return None if r is None else rows.execution(r)

    # -- manual trigger and completion ---------------------------------------------------------
    async def trigger(self, env_id: int, job_id: int, now: datetime) -> Execution:
        for _ in range(5):
            try:
                return await self._trigger_once(env_id, job_id, now)
            except IntegrityError:  # a concurrent trigger took the same instant: take the next
                continue
        return await self._trigger_once(env_id, job_id, now)

    async def _trigger_once(self, env_id: int, job_id: int, now: datetime) -> Execution:
        async with self.db.write() as c:
            job = await _job_in_env(c, env_id, job_id)
            if job.blocking and await _has_active(c, job.id):
                raise Conflict(
                    f"job {job.id} is blocking and its previous run is still pending or running"
                )
            # Manual runs are keyed by their instant too; two triggers in the same
            # millisecond get consecutive milliseconds.
            last = _as_dt((await c.execute(
                select(func.max(executions.c.scheduled_for))
                .where(executions.c.job_id == job.id, executions.c.source == "manual")
            )).scalar_one_or_none())
            instant = now if last is None or last < now else last + timedelta(milliseconds=1)
            row = _exec_row(
                job, status=ExecStatus.PENDING, source="manual", scheduled_for=instant,
                attempt=1, trigger=Trigger.MANUAL, due_at=now, now=now,
            )
            r = (await c.execute(executions.insert().values(**row).returning(*executions.c))).one()
            await c.execute(
                update(jobs)
                .where(jobs.c.id == job.id)
                .values(status=JobStatus.PENDING.value, retry_count=0, last_run_at=now)
            )
            return rows.execution(r)

    async def complete(
        self, env_id: int, exec_id: int, report: Completion, now: datetime
    ) -> tuple[Execution, bool]:
        [(_, result)] = await self.complete_many(env_id, [(exec_id, report)], now)
        if isinstance(result, Exception):
            raise result
        return result

    async def complete_many(
        self, env_id: int, reports: Sequence[tuple[int, Completion]], now: datetime
    ) -> list[tuple[int, tuple[Execution, bool] | NotFound | Conflict]]:
        """One read of every reported run (locked on PostgreSQL), the decisions in Python,
        one batched UPDATE: a burst of reports costs a few statements, not two per report.
        The write transaction (SQLite) or the row locks (PostgreSQL) keep each status stable
        between the read and the update, so the update needs no compare-and-swap."""
        out: list[tuple[int, tuple[Execution, bool] | NotFound | Conflict]] = []
        async with self.db.write() as c:
            wanted = sorted({exec_id for exec_id, _ in reports})
            current: dict[int, Execution] = {}
            for i in range(0, len(wanted), 500):
                q = (
                    select(executions)
                    .where(
                        executions.c.id.in_(wanted[i : i + 500]),
                        executions.c.environment_id == env_id,
                    )
                    .order_by(executions.c.id)  # locks taken in one order: no deadlock
                )
                if not self.db.is_sqlite:
                    q = q.with_for_update()
                current.update((e.id, e) for e in map(rows.execution, await c.execute(q)))
            ended: list[Execution] = []
            for exec_id, report in reports:
                ex = current.get(exec_id)
                if ex is None:
                    out.append((exec_id, NotFound(f"execution {exec_id} not found")))
                    continue
                try:
                    done, changed = _end(ex, report, now)
                except Conflict as exc:
                    out.append((exec_id, exc))
                    continue
                current[exec_id] = done
                out.append((exec_id, (done, changed)))
                if changed:
                    ended.append(done)
            if ended:
                await c.execute(_END_RUN, [_end_params(e) for e in ended])
            await _refresh_job_status(c, ended)
            await _track_health(self.db, c, ended, now)
            await _create_retries(self.db, c, ended, now)
        return out

    # -- claims ------------------------------------------------------------------------------
    async def claim(
        self, env_id: int, codes: Sequence[str] | None, types: Sequence[str], now: datetime,
        limit: int,
        key_id: int | None = None,
    ) -> list[Execution]:
        if (codes is not None and not codes) or limit <= 0:
            return []
        async with self.db.write() as c:
            q = (
                select(executions.c.id)
                .where(
                    executions.c.status == ExecStatus.PENDING.value,
                    executions.c.environment_id == env_id,
                    _codes_filter(codes),
                    executions.c.due_at <= now,
                    executions.c.job_type.in_(list(types)),
                )
                .order_by(executions.c.due_at, executions.c.id)
                .limit(limit)
            )
            if key_id is not None:
                q = q.where(_access_alive(key_id, env_id))
            return await self._mark_running(c, self.db.skip_locked(q), now)

    async def _mark_running(
        self, c: AsyncConnection, pick: Any, now: datetime
    ) -> list[Execution]:
        now_ms = literal(to_ms(now), BigInteger())
        res = await c.execute(
            update(executions)
            .where(executions.c.id.in_(pick.scalar_subquery()),
                   executions.c.status == ExecStatus.PENDING.value)
            .values(
                status=ExecStatus.RUNNING.value,
                pick_up_time=now,
                start_time=now,
                run_deadline=now_ms + (executions.c.timeout_seconds
                                       + policies.RUN_GRACE_SECONDS) * 1000,
            )
            .returning(*executions.c)
        )
        claimed = sorted((rows.execution(r) for r in res), key=lambda e: (e.due_at, e.id))
        await _refresh_job_status(c, claimed)
        return claimed

    async def release(self, env_id: int, ids: Sequence[int], now: datetime) -> list[Execution]:
        if not ids:
            return []
        async with self.db.write() as c:
            res = await c.execute(
                select(executions.c.id, executions.c.timeout_seconds).where(
                    executions.c.id.in_(list(ids)),
                    executions.c.environment_id == env_id,
                    executions.c.status == ExecStatus.RUNNING.value,
                )
            )
            params = [{"i": i, "d": policies.pickup_deadline(now, t)} for i, t in res]
            if not params:
                return []
            await c.execute(
                update(executions)
                .where(executions.c.id == bindparam("i"),
                       executions.c.status == ExecStatus.RUNNING.value)
                .values(status=ExecStatus.PENDING.value, pick_up_time=None, start_time=None,
                        run_deadline=None,
                        pickup_deadline=bindparam("d", type_=executions.c.pickup_deadline.type)),
                params,
            )
            back = await c.execute(
                select(executions).where(executions.c.id.in_([p["i"] for p in params]))
            )
            released = [rows.execution(r) for r in back]
            await _refresh_job_status(c, released)
            return released

    async def claim_any(
        self, types: Sequence[str], now: datetime, limit: int
    ) -> list[tuple[Execution, str | None, str]]:
        if limit <= 0:
            return []
        async with self.db.write() as c:
            pick = self.db.skip_locked(
                select(executions.c.id)
                .where(
                    executions.c.status == ExecStatus.PENDING.value,
                    executions.c.job_type.in_(list(types)),
                    executions.c.due_at <= now,
                )
                .order_by(executions.c.due_at, executions.c.id)
                .limit(limit)
            )
            claimed = await self._mark_running(c, pick, now)
            if not claimed:
                return []
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
            v = (await c.execute(
                select(func.min(executions.c.due_at)).where(
                    executions.c.status == ExecStatus.PENDING.value,
                    executions.c.job_type.in_(list(types)),
                )
            )).scalar_one_or_none()
        return _as_dt(v)

    async def earliest_pending_due(
        self, env_id: int, codes: Sequence[str] | None, types: Sequence[str]
    ) -> datetime | None:
        if codes is not None and not codes:
            return None
        async with self.db.read() as c:
            v = (
                await c.execute(
                    select(func.min(executions.c.due_at)).where(
                        executions.c.status == ExecStatus.PENDING.value,
                        executions.c.environment_id == env_id,
                        _codes_filter(codes),
                        executions.c.job_type.in_(list(types)),
                    )
                )
            ).scalar_one_or_none()
        return _as_dt(v)

    # -- scheduler -----------------------------------------------------------------------------
    async def earliest_next_run_at(self) -> datetime | None:
        async with self.db.read() as c:
            v = (
                await c.execute(
                    select(func.min(jobs.c.next_run_at)).where(jobs.c.next_run_at.is_not(None))
                )
            ).scalar_one_or_none()
        return _as_dt(v)

    def _tick_insert(self) -> Any:
        return (
            self.db.insert(executions)
            .on_conflict_do_nothing(
                index_elements=["job_id", "source", "scheduled_for", "attempt"]
            )
            .returning(*executions.c)
        )

    async def tick(
        self, now: datetime, limit: int, planner: Planner, skip: Collection[int] = ()
    ) -> TickResult:
        async with self.db.write() as c:
            q = (
                select(jobs)
                .where(jobs.c.next_run_at <= now, jobs.c.paused.is_(False))
                .order_by(jobs.c.next_run_at)
                .limit(limit)
            )
            if skip:
                q = q.where(jobs.c.id.not_in(list(skip)))
            due = [rows.job(r) for r in await c.execute(self.db.skip_locked(q))]
            if not due:
                return TickResult(jobs=0, created=[])
            blocking_ids = [j.id for j in due if j.blocking]
            active: set[int] = set()
            if blocking_ids:
                res = await c.execute(
                    select(executions.c.job_id)
                    .where(
                        executions.c.job_id.in_(blocking_ids),
                        executions.c.status.in_(ACTIVE_VALUES),
                    )
                    .distinct()
                )
                active = {r[0] for r in res}
            new_rows: list[dict[str, Any]] = []
            job_updates: list[dict[str, Any]] = []
            for job in due:
                plan = planner(job)
                late = set(plan.caught_up)
                last_pending: datetime | None = None
                for t in plan.run:
                    if job.blocking and (job.id in active):
                        new_rows.append(
                            _exec_row(
                                job,
                                status=ExecStatus.SKIPPED,
                                source="schedule",
                                scheduled_for=t,
                                attempt=1,
                                trigger=Trigger.SCHEDULE,
                                due_at=t,
                                now=now,
                                error=BLOCKED_ERROR,
                            )
                        )
                        continue
                    new_rows.append(
                        _exec_row(
                            job,
                            status=ExecStatus.PENDING,
                            source="schedule",
                            scheduled_for=t,
                            attempt=1,
                            trigger=Trigger.SCHEDULE,
                            due_at=t,
                            now=now,
                            window_from=now if t in late else None,
                        )
                    )
                    last_pending = t
                    if job.blocking:
                        active.add(job.id)
                if plan.skipped_at is not None:
                    new_rows.append(
                        _exec_row(
                            job,
                            status=ExecStatus.SKIPPED,
                            source="schedule",
                            scheduled_for=plan.skipped_at,
                            attempt=1,
                            trigger=Trigger.SCHEDULE,
                            due_at=plan.skipped_at,
                            now=now,
                            error=plan.skipped_error,
                        )
                    )
                job_updates.append(
                    {
                        "j": job.id,
                        "nra": plan.next_run_at,
                        "st": JobStatus.PENDING.value if last_pending else job.status.value,
                        "rc": 0 if last_pending else job.retry_count,
                        "lra": last_pending or job.last_run_at,
                    }
                )
            created: list[Execution] = []
            if new_rows:
                # executemany with RETURNING: SQLAlchemy's "insertmanyvalues" sends multi-row
                # INSERTs from one cached compiled statement, in batches under the drivers'
                # parameter limits; conflicting rows (a tick made before) return nothing
                res = await c.execute(self._tick_insert(), new_rows)
                created.extend(rows.execution(r) for r in res)
            await c.execute(
                update(jobs)
                .where(jobs.c.id == bindparam("j"))
                .values(
                    next_run_at=bindparam("nra", type_=jobs.c.next_run_at.type),
                    status=bindparam("st"),
                    retry_count=bindparam("rc"),
                    last_run_at=bindparam("lra", type_=jobs.c.last_run_at.type),
                ),
                job_updates,
            )
            return TickResult(jobs=len(due), created=created)

    @staticmethod
    def _overdue(
        now: datetime, held_before: datetime | None, skip: Collection[int], limit: int
    ) -> Any:
        """Ids of live executions past a deadline (``held_before``: deadlines earlier than
        it are left alone; ``skip``: ids set aside)."""
        parts = []
        for status, deadline in (
            (ExecStatus.PENDING, executions.c.pickup_deadline),
            (ExecStatus.RUNNING, executions.c.run_deadline),
        ):
            q = select(executions.c.id).where(executions.c.status == status.value,
                                              deadline <= now)
            if held_before is not None:
                q = q.where(deadline >= held_before)
            if skip:
                q = q.where(executions.c.id.not_in(list(skip)))
            parts.append(q)
        return union_all(*parts).limit(limit)

    async def overdue_ids(
        self,
        now: datetime,
        *,
        held_before: datetime | None = None,
        skip: Collection[int] = (),
        limit: int = REAP_BATCH,
    ) -> list[int]:
        async with self.db.read() as c:
            return [r[0] for r in await c.execute(self._overdue(now, held_before, skip, limit))]

    async def expire_overdue(
        self,
        now: datetime,
        *,
        held_before: datetime | None = None,
        skip: Collection[int] = (),
        only: Sequence[int] | None = None,
    ) -> list[Execution]:
        async with self.db.write() as c:
            q = self._overdue(now, held_before, skip, REAP_BATCH)
            ids = [r[0] for r in await c.execute(q)]
            if only is not None:
                ids = [i for i in ids if i in set(only)]
            if not ids:
                return []
            res = await c.execute(
                update(executions)
                .where(executions.c.id.in_(ids), executions.c.status.in_(ACTIVE_VALUES))
                .values(status=ExecStatus.EXPIRED.value, end_time=now)
                .returning(*executions.c)
            )
            expired = [rows.execution(r) for r in res]
            fixed: list[Execution] = []
            for e in expired:  # explain each expiry in its own words
                if e.pick_up_time is None:
                    msg = (
                        f"expired: not picked up within "
                        f"{min(e.timeout_seconds, policies.PICKUP_WINDOW_CAP_SECONDS)}s "
                        "of becoming due (no worker connected?)"
                    )
                else:
                    msg = (
                        f"expired: no result reported within timeout "
                        f"({e.timeout_seconds}s + {policies.RUN_GRACE_SECONDS}s grace)"
                    )
                fixed.append(_replace_error(e, msg))
            await c.execute(
                update(executions)
                .where(executions.c.id == bindparam("i"))
                .values(error=bindparam("m")),
                [{"i": e.id, "m": e.error} for e in fixed],
            )
            await _refresh_job_status(c, fixed)
            await _track_health(self.db, c, fixed, now)
            await _create_retries(self.db, c, fixed, now)
            return fixed

    async def earliest_deadline(self, not_before: datetime | None = None) -> datetime | None:
        found: list[Any] = []
        async with self.db.read() as c:
            for status, deadline in (
                (ExecStatus.PENDING, executions.c.pickup_deadline),
                (ExecStatus.RUNNING, executions.c.run_deadline),
            ):
                q = select(func.min(deadline)).where(executions.c.status == status.value)
                if not_before is not None:
                    q = q.where(deadline >= not_before)
                found.append((await c.execute(q)).scalar_one_or_none())
        a, b = found
        vals = [v for v in (_as_dt(a), _as_dt(b)) if v is not None]
        return min(vals) if vals else None


def _as_dt(v: Any) -> datetime | None:
    """Aggregates over EpochMs columns come back converted on most drivers; be sure."""
    if v is None or isinstance(v, datetime):
        return v
    return from_ms(int(v))


def _access_alive(key_id: int, env_id: int) -> Any:
    """SQL: the key is unrevoked and the environment exists (two primary-key lookups)."""
    return and_(
        exists().where(api_keys.c.id == key_id, api_keys.c.revoked.is_(False)),
        exists().where(environments.c.id == env_id),
    )


def _codes_filter(codes: Sequence[str] | None) -> Any:
    """``job_code IN codes``; None means every job code of the environment."""
    return true() if codes is None else executions.c.job_code.in_(list(codes))


def _replace_error(e: Execution, msg: str) -> Execution:
    return replace(e, error=msg)


async def _create_retries(
    db: Database, c: AsyncConnection, ended: Sequence[Execution], now: datetime
) -> None:
    """Retry each failed/expired attempt whose job still allows another one."""
    failed = [e for e in ended if e.status in (ExecStatus.FAILED, ExecStatus.EXPIRED)]
    if not failed:
        return
    res = await c.execute(select(jobs).where(jobs.c.id.in_({e.job_id for e in failed})))
    by_id = {j.id: j for j in (rows.job(r) for r in res)}
    new_rows = []
    for e in failed:
        job = by_id.get(e.job_id)
        if job is None or not policies.will_retry(e.attempt, job.max_retries):
            continue
        due = now + timedelta(seconds=policies.retry_delay(e.attempt))
        new_rows.append(
            _exec_row(
                job,
                status=ExecStatus.PENDING,
                source=e.source,
                scheduled_for=e.scheduled_for,
                attempt=e.attempt + 1,
                trigger=Trigger.RETRY,
                due_at=due,
                now=now,
                metadata=e.metadata,
            )
        )
    if new_rows:
        await c.execute(
            db.insert(executions).on_conflict_do_nothing(
                index_elements=["job_id", "source", "scheduled_for", "attempt"]
            ),
            new_rows,
        )
        await c.execute(
            update(jobs)
            .where(jobs.c.id == bindparam("j"))
            .values(status=JobStatus.PENDING.value, retry_count=bindparam("rc")),
            [{"j": r["job_id"], "rc": r["attempt"] - 1} for r in new_rows],
        )


_END_RUN = (
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
    )
)


def _end_params(e: Execution) -> dict[str, Any]:
    return {"i": e.id, "st": e.status.value, "s": e.start_time, "e": e.end_time,
            "d": e.duration, "o": e.output, "er": e.error, "x": e.exit_code}


def _end(ex: Execution, report: Completion, now: datetime) -> tuple[Execution, bool]:
    """The execution as the report ends it. An ended execution: same outcome -> (it, False);
    another -> Conflict. Times are kept at the store's millisecond precision."""
    want = ExecStatus.COMPLETED if report.success else ExecStatus.FAILED
    if ex.status.terminal:
        if ex.status is want:
            return ex, False
        raise Conflict(
            f"execution {ex.id} already ended as {ex.status.value}; "
            f"a report of {want.value} is refused"
        )
    end = from_ms(to_ms(report.end_time or now))
    start = from_ms(to_ms(report.start_time or ex.pick_up_time or ex.due_at))
    if start > end:
        start = end
    duration = int((end - start).total_seconds() * 1000)
    done = replace(
        ex, status=want, start_time=start, end_time=end, duration=duration,
        output=report.output, error=report.error, exit_code=report.exit_code,
    )
    return done, True


async def _job_in_env(c: AsyncConnection, env_id: int, job_id: int) -> Job:
    r = (
        await c.execute(select(jobs).where(jobs.c.id == job_id, jobs.c.environment_id == env_id))
    ).first()
    if r is None:
        raise NotFound(f"job {job_id} not found")
    return rows.job(r)


async def _get_exec(c: AsyncConnection, env_id: int, exec_id: int) -> Execution:
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


async def _has_active(c: AsyncConnection, job_id: int) -> bool:
    r = (
        await c.execute(
            select(executions.c.id)
            .where(executions.c.job_id == job_id, executions.c.status.in_(ACTIVE_VALUES))
            .limit(1)
        )
    ).first()
    return r is not None
