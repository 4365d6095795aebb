"""Operational counts for ``/metrics`` (contract: contracts.StatsStore)."""

from __future__ import annotations

from sqlalchemy import false, func, literal, select, union_all

from ..domain.model import DeliveryStatus, RunStatus
from .contracts import LiveCounts
from .db import Database
from .schema import executions, notification_deliveries, notifications

LIVE = [RunStatus.PENDING.value, RunStatus.RUNNING.value]


class StatsSql:
    db: Database

    async def live_counts(self) -> LiveCounts:
        e, n, d = executions.c, notifications.c, notification_deliveries.c
        # One statement; each part reads only live rows through a partial index
        # (ix_executions_active_job, ix_notifications_pending_fanout,
        # ix_notification_deliveries_due).
        runs = (
            select(literal("run").label("k"), e.job_type.label("a"), e.status.label("b"),
                   func.count().label("n"))
            .where(e.status.in_(LIVE))
            .group_by(e.job_type, e.status)
        )
        unfanned = select(
            literal("unfanned"), literal(""), literal(""), func.count()
        ).where(n.fanned_out == false())
        pending = (
            select(literal("delivery"), d.channel, literal(""), func.count())
            .where(d.status == DeliveryStatus.PENDING.value)
            .group_by(d.channel)
        )
        async with self.db.read() as c:
            rows = list(await c.execute(union_all(runs, unfanned, pending)))
        out = LiveCounts(runs={}, notifications_unfanned=0, deliveries_pending={})
        for k, a, b, count in rows:
            if k == "run":
                out.runs[(str(a), str(b))] = int(count)
            elif k == "unfanned":
                out = LiveCounts(out.runs, int(count), out.deliveries_pending)
            else:
                out.deliveries_pending[str(a)] = int(count)
        return out
