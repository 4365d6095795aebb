"""The notification outbox: fan-out, leased claims and delivery outcomes (contract:
contracts.NotifyStore)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, false, func, select, update

from ..domain.model import ChannelKind, DeliveryStatus
from ..domain.timefmt import from_ms
from .contracts import (
    Delivery,
    DueDelivery,
    Notification,
    NotificationRecord,
    NotifyWork,
)
from .db import Conn, Database
from .schema import (
    alert_channels,
    environments,
    executions,
    jobs,
    notification_deliveries,
    notifications,
    org_emails,
)

PENDING = DeliveryStatus.PENDING.value
EMAIL = ChannelKind.EMAIL.value
INSERT_CHUNK = 500  # rows per multi-row insert (SQLite caps bound variables)

n_ = notifications.c
d_ = notification_deliveries.c


def _notification(r: Any) -> Notification:
    return Notification(
        id=r.id,
        kind=r.kind,
        organization_id=r.organization_id,
        environment_id=r.environment_id,
        job_id=r.job_id,
        job_name=r.job_name,
        execution_id=r.execution_id,
        execution_status=r.execution_status,
        attempt=r.attempt,
        scheduled_for=r.scheduled_for,
        ended_at=r.end_time if r.end_time is not None else r.created_at,
        error=r.error,
        output=r.output,
        created_at=r.created_at,
    )


def _delivery(r: Any) -> Delivery:
    return Delivery(
        id=r.id,
        notification_id=r.notification_id,
        channel=r.channel,
        target=r.target,
        status=r.status,
        tries=r.tries,
        next_attempt_at=r.next_attempt_at,
        last_error=r.last_error,
        sent_at=r.sent_at,
    )


def _with_run() -> Any:
    """Notifications with their run's end time (outer join: the run may be deleted)."""
    return select(*notifications.c, executions.c.end_time).select_from(
        notifications.outerjoin(executions, executions.c.id == n_.execution_id)
    )


class NotifySql:
    db: Database

    async def fan_out(self, now: datetime, webhook_url: str | None, limit: int) -> int:
        if limit <= 0:
            return 0
        async with self.db.write() as c:
            pick = self.db.skip_locked(
                select(n_.id, n_.organization_id, n_.environment_id, n_.job_id)
                .where(n_.fanned_out == false())
                .order_by(n_.id)
                .limit(limit)
            )
            picked = (await c.execute(pick)).all()
            todo = [(r.id, r.organization_id) for r in picked]
            if not todo:
                return 0
            routed = await routes(c, picked)
            res = await c.execute(
                select(org_emails.c.organization_id, org_emails.c.email)
                .where(org_emails.c.organization_id.in_({org for _, org in todo}))
                .order_by(org_emails.c.id)
            )
            emails: dict[int, list[str]] = {}
            for r in res:
                emails.setdefault(r.organization_id, []).append(r.email)
            new: list[dict[str, Any]] = []
            for nid, org in todo:
                targets = routed.get(nid)
                if targets is None:  # no channels in its environment: the organisation's list
                    targets = [(EMAIL, e) for e in emails.get(org, [])]
                if webhook_url:
                    targets.append((ChannelKind.WEBHOOK.value, webhook_url))
                new.extend(
                    {
                        "notification_id": nid,
                        "channel": channel,
                        "target": target,
                        "status": PENDING,
                        "tries": 0,
                        "next_attempt_at": now,
                        "last_error": None,
                        "sent_at": None,
                    }
                    for channel, target in targets
                )
            stmt = self.db.insert(notification_deliveries).on_conflict_do_nothing(
                index_elements=["notification_id", "channel", "target"]
            )
            for i in range(0, len(new), INSERT_CHUNK):
                await c.execute(stmt.values(new[i : i + INSERT_CHUNK]))
            await c.execute(
                update(notifications)
                .where(n_.id.in_([nid for nid, _ in todo]))
                .values(fanned_out=True)
            )
            return len(todo)

    async def due_deliveries(
        self, now: datetime, limit: int, lease_seconds: float = 120.0
    ) -> list[DueDelivery]:
        if limit <= 0:
            return []
        async with self.db.write() as c:
            pick = self.db.skip_locked(
                select(d_.id)
                .where(d_.status == PENDING, d_.next_attempt_at <= now)
                .order_by(d_.next_attempt_at, d_.id)
                .limit(limit)
            )
            lease_until = now + timedelta(seconds=lease_seconds)
            res = await c.execute(
                update(notification_deliveries)
                .where(d_.id.in_(self.db.picked(pick)), d_.status == PENDING)
                .values(next_attempt_at=lease_until, tries=d_.tries + 1)
                .returning(*notification_deliveries.c)
            )
            claimed = sorted((_delivery(r) for r in res), key=lambda d: d.id)
            if not claimed:
                return []
            res = await c.execute(
                _with_run()
                .add_columns(environments.c.name.label("environment_name"))
                .outerjoin(environments, environments.c.id == n_.environment_id)
                .where(n_.id.in_({d.notification_id for d in claimed}))
            )
            found = {r.id: (_notification(r), r.environment_name) for r in res}
        out = []
        for d in claimed:
            n, env_name = found[d.notification_id]  # FK: a delivery has its notification
            out.append(DueDelivery(delivery=d, notification=n, environment_name=env_name))
        return out

    async def _finish(self, delivery_id: int, **values: Any) -> bool:
        async with self.db.write() as c:
            res = await c.execute(
                update(notification_deliveries)
                .where(d_.id == delivery_id, d_.status == PENDING)
                .values(**values)
                .returning(d_.id)
            )
            return res.first() is not None

    async def mark_sent(self, delivery_id: int, now: datetime) -> bool:
        return await self._finish(delivery_id, status=DeliveryStatus.SENT.value, sent_at=now,
                                  last_error=None)

    async def mark_retry(self, delivery_id: int, error: str, next_attempt_at: datetime) -> bool:
        return await self._finish(delivery_id, last_error=error, next_attempt_at=next_attempt_at)

    async def mark_failed(self, delivery_id: int, error: str) -> bool:
        return await self._finish(delivery_id, status=DeliveryStatus.FAILED.value,
                                  last_error=error)

    async def mark_skipped(self, delivery_id: int, reason: str) -> bool:
        return await self._finish(
            delivery_id,
            status=DeliveryStatus.SKIPPED.value,
            last_error=reason,
            tries=case((d_.tries > 0, d_.tries - 1), else_=0),
        )

    async def notify_work(self) -> NotifyWork:
        async with self.db.read() as c:
            unfanned = (
                await c.execute(select(exists().where(n_.fanned_out == false())))
            ).scalar_one()
            nxt = (
                await c.execute(select(func.min(d_.next_attempt_at)).where(d_.status == PENDING))
            ).scalar_one_or_none()
        return NotifyWork(unfanned=bool(unfanned), next_attempt_at=_as_dt(nxt))

    async def list_notifications(
        self, org_id: int, limit: int, env_id: int | None = None, job_id: int | None = None
    ) -> list[NotificationRecord]:
        if limit <= 0:
            return []
        async with self.db.read() as c:
            q = _with_run().where(n_.organization_id == org_id)
            if env_id is not None:
                q = q.where(n_.environment_id == env_id)
            if job_id is not None:
                q = q.where(n_.job_id == job_id)
            res = await c.execute(q.order_by(n_.id.desc()).limit(limit))
            found = [_notification(r) for r in res]
            return await _attach(c, found)


async def routes(c: Conn, picked: Any) -> dict[int, list[tuple[str, str]]]:
    """The targets of each notification whose environment has alert channels: the job's
    chosen channels (by name; all of the environment's when it chose none), each email
    address, webhook or slack URL once. Notifications of environments without channels
    are left out (they go to the organisation's list)."""
    envs = {r.environment_id for r in picked}
    res = await c.execute(select(alert_channels).where(
        alert_channels.c.environment_id.in_(envs)).order_by(alert_channels.c.id))
    by_env: dict[int, list[Any]] = {}
    for ch in res:
        by_env.setdefault(ch.environment_id, []).append(ch)
    if not by_env:
        return {}
    res = await c.execute(select(jobs.c.id, jobs.c.channels).where(
        jobs.c.id.in_({r.job_id for r in picked if r.environment_id in by_env})))
    chosen = {r.id: r.channels for r in res}
    out: dict[int, list[tuple[str, str]]] = {}
    for r in picked:
        channels = by_env.get(r.environment_id)
        if channels is None:
            continue
        names = chosen.get(r.job_id)
        targets: list[tuple[str, str]] = []
        for ch in channels:
            if names is not None and ch.name not in names:
                continue
            if ch.kind == ChannelKind.EMAIL:
                targets.extend((EMAIL, a) for a in ch.addresses or [])
            elif ch.url:
                targets.append((ch.kind, ch.url))
        out[r.id] = list(dict.fromkeys(targets))
    return out


async def _attach(c: Conn, found: list[Notification]) -> list[NotificationRecord]:
    if not found:
        return []
    res = await c.execute(
        select(notification_deliveries)
        .where(d_.notification_id.in_([n.id for n in found]))
        .order_by(d_.id)
    )
    by_id: dict[int, list[Delivery]] = {n.id: [] for n in found}
    for r in res:
        by_id[r.notification_id].append(_delivery(r))
    return [NotificationRecord(notification=n, deliveries=by_id[n.id]) for n in found]


def _as_dt(v: Any) -> datetime | None:
    """Aggregates over EpochMs columns come back converted on most drivers; be sure."""
    if v is None or isinstance(v, datetime):
        return v
    return from_ms(int(v))
