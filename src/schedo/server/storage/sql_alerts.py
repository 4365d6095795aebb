"""Alerts that no run's end brings (contract: contracts.AlertStore): the no-success window
(``alerts.success_due``), checked by the reaper."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, exists, false, func, literal, select, update

from ..domain import alerts
from ..domain.model import Health, NoticeKind, RunStatus
from ..domain.timefmt import rfc3339, to_ms
from . import rows
from .db import Database
from .run_rows import as_dt, notice_row
from .schema import environments, executions, jobs, notifications

WINDOW_BATCH = 200


class AlertSql:
    db: Database

    async def alert_missed_windows(self, now: datetime, limit: int = WINDOW_BATCH) -> int:
        if limit <= 0:
            return 0
        sent = 0
        async with self.db.write() as c:
            due = (await c.execute(
                select(jobs.c.id, jobs.c.environment_id, jobs.c.name, jobs.c.muted,
                       jobs.c.success_within_seconds, jobs.c.success_due_at,
                       jobs.c.last_success_at, environments.c.organization_id)
                .join(environments, environments.c.id == jobs.c.environment_id)
                .where(jobs.c.success_due_at <= now, jobs.c.paused == false())
                .order_by(jobs.c.success_due_at, jobs.c.id)
                .limit(limit)
            )).all()
            for j in due:
                won = (await c.execute(  # compare-and-swap: one alert per window
                    update(jobs)
                    .where(jobs.c.id == j.id, jobs.c.success_due_at == j.success_due_at)
                    .values(success_due_at=None)
                    .returning(jobs.c.id)
                )).first()
                if won is None or j.muted or not j.success_within_seconds:
                    continue
                await c.execute(
                    self.db.insert(notifications).on_conflict_do_nothing(
                        index_elements=["execution_id", "kind"]),
                    [await _window_notice(c, j, now)],
                )
                sent += 1
        return sent

    async def send_reminders(self, now: datetime, limit: int = WINDOW_BATCH) -> int:
        if limit <= 0:
            return 0
        sent = 0
        async with self.db.write() as c:
            due = (await c.execute(
                select(jobs.c.id, jobs.c.environment_id, jobs.c.name, jobs.c.muted,
                       jobs.c.health, jobs.c.remind_every_seconds, jobs.c.remind_at,
                       jobs.c.consecutive_failures, environments.c.organization_id)
                .join(environments, environments.c.id == jobs.c.environment_id)
                .where(jobs.c.remind_at <= now, jobs.c.paused == false())
                .order_by(jobs.c.remind_at, jobs.c.id)
                .limit(limit)
            )).all()
            for j in due:
                failing = j.health == Health.FAILING.value
                nxt = alerts.remind_due(j.remind_every_seconds, now) if failing else None
                won = (await c.execute(  # compare-and-swap: one reminder per due time
                    update(jobs)
                    .where(jobs.c.id == j.id, jobs.c.remind_at == j.remind_at)
                    .values(remind_at=nxt)
                    .returning(jobs.c.id)
                )).first()
                if won is None or j.muted or not failing:
                    continue
                last = (await c.execute(
                    select(executions).where(executions.c.job_id == j.id,
                                             executions.c.status != RunStatus.SKIPPED.value)
                    .order_by(executions.c.id.desc()).limit(1))).first()
                if last is None:
                    continue
                run = rows.execution(last)
                msg = (f"still failing: {j.consecutive_failures} failed run(s) in a row; "
                       f"the last ended {run.status.value}"
                       + (f": {run.error}" if run.error else ""))
                done = await c.execute(
                    self.db.insert(notifications).on_conflict_do_nothing(
                        index_elements=["execution_id", "kind"]).returning(notifications.c.id),
                    [notice_row(j.organization_id, run, NoticeKind.REMINDER, now, msg)],
                )
                sent += len(done.all())
        return sent

    async def alert_slow_runs(self, now: datetime, limit: int = WINDOW_BATCH) -> int:
        now_ms = literal(to_ms(now), BigInteger())
        async with self.db.write() as c:
            found = (await c.execute(
                select(executions, environments.c.organization_id.label("org_id"))
                .join(jobs, jobs.c.id == executions.c.job_id)
                .join(environments, environments.c.id == jobs.c.environment_id)
                .where(executions.c.status == RunStatus.RUNNING.value,
                       jobs.c.max_duration_seconds.is_not(None),
                       jobs.c.muted == false(),
                       executions.c.start_time + jobs.c.max_duration_seconds * 1000 < now_ms,
                       ~exists().where(notifications.c.execution_id == executions.c.id,
                                       notifications.c.kind == NoticeKind.SLOW.value))
                .order_by(executions.c.id)
                .limit(limit)
            )).all()
            if not found:
                return 0
            rows_ = []
            for r in found:
                run = rows.execution(r)
                started = run.start_time or now
                rows_.append(notice_row(
                    r.org_id, run, NoticeKind.SLOW, now,
                    f"still running after {int((now - started).total_seconds())}s "
                    f"(started {rfc3339(started)})"))
            done = await c.execute(
                self.db.insert(notifications).on_conflict_do_nothing(
                    index_elements=["execution_id", "kind"]).returning(notifications.c.id),
                rows_)
            return len(done.all())

    async def earliest_reminder_due(self) -> datetime | None:
        async with self.db.read() as c:
            v = (await c.execute(
                select(func.min(jobs.c.remind_at)).where(jobs.c.paused == false())
            )).scalar_one_or_none()
        return as_dt(v)

    async def earliest_window_due(self) -> datetime | None:
        async with self.db.read() as c:
            v = (await c.execute(
                select(func.min(jobs.c.success_due_at)).where(jobs.c.paused == false())
            )).scalar_one_or_none()
        return as_dt(v)


async def _window_notice(c: Any, j: Any, now: datetime) -> dict[str, Any]:
    """The outbox row of a no-success alert. It names the job's latest run if it has one
    (else ``-job id``, which no run has, keeps the outbox key unique)."""
    last = (await c.execute(
        select(executions.c.id, executions.c.status, executions.c.attempt,
               executions.c.scheduled_for)
        .where(executions.c.job_id == j.id)
        .order_by(executions.c.id.desc()).limit(1)
    )).first()
    window = int(j.success_within_seconds)
    since = j.success_due_at - timedelta(seconds=window)
    return {
        "organization_id": j.organization_id, "environment_id": j.environment_id,
        "job_id": j.id, "job_name": j.name, "kind": NoticeKind.NO_SUCCESS.value,
        "execution_id": last.id if last else -j.id,
        "execution_status": last.status if last else "none",
        "attempt": last.attempt if last else 0,
        "scheduled_for": last.scheduled_for if last else j.success_due_at,
        "error": alerts.window_message(window, since, j.last_success_at is not None),
        "output": None, "fanned_out": False, "created_at": now,
    }
