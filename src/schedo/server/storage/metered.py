"""The metered store: ``SqlStore`` plus counting, for the Prometheus metrics
(``observability/metrics.py``).

Every run is created by ``tick`` or ``trigger``, handed out by ``claim``/``claim_any`` and ended
by ``complete_many``, ``expire_overdue`` or ``cancel``; the return values say exactly which rows
this call wrote (inserts are ``ON CONFLICT DO NOTHING … RETURNING``, claims and ends are
compare-and-swap updates), so the counts are right however many processes share the database,
with no call added to the services or loops. What it counts goes to a ``Meter`` (the app's
``observability.metrics.Metrics``): storage knows the hooks, not Prometheus.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from ..domain.errors import Conflict, NotFound
from ..domain.records import Completion, Run
from ..domain.targets import AgentMatch
from .contracts import DueDelivery, Planner, PruneBatch, TickResult
from .db import Database
from .sealing import Sealer
from .sql import SqlStore

CHANNEL_MEMORY = 10_000  # delivery id -> channel, for claimed deliveries awaiting their outcome


class Meter(Protocol):
    """Where the metered store reports what it wrote."""

    def ticks_created(self, created: Iterable[Run]) -> None: ...

    def runs_claimed(self, claimed: Iterable[Run]) -> None: ...

    def runs_ended(self, ended: Iterable[Run]) -> None: ...

    def notification_delivery(self, channel: str, outcome: str) -> None: ...

    def rows_pruned(self, table: str, n: int) -> None: ...


class MeteredStore(SqlStore):
    def __init__(self, db: Database, metrics: Meter, sealer: Sealer) -> None:
        super().__init__(db, sealer)
        self.metrics = metrics
        self._channels: OrderedDict[int, str] = OrderedDict()

    async def tick(
        self, now: datetime, limit: int, planner: Planner, skip: Collection[int] = ()
    ) -> TickResult:
        res = await super().tick(now, limit, planner, skip)
        self.metrics.ticks_created(res.created)
        return res

    async def claim(
        self,
        env_id: int,
        codes: Sequence[str] | None,
        types: Sequence[str],
        now: datetime,
        limit: int,
        key_id: int | None = None,
        worker: str | None = None,
        agent: AgentMatch | None = None,
    ) -> list[Run]:
        got = await super().claim(env_id, codes, types, now, limit, key_id, worker, agent)
        self.metrics.runs_claimed(got)
        return got

    async def cancel(
        self, env_id: int, exec_id: int, now: datetime, reason: str | None = None
    ) -> Run:
        done = await super().cancel(env_id, exec_id, now, reason)
        self.metrics.runs_ended([done])
        return done

    async def claim_any(
        self, types: Sequence[str], now: datetime, limit: int
    ) -> list[tuple[Run, str | None, str]]:
        got = await super().claim_any(types, now, limit)
        self.metrics.runs_claimed(e for e, _, _ in got)
        return got

    async def complete_many(
        self, env_id: int, reports: Sequence[tuple[int, Completion]], now: datetime
    ) -> list[tuple[int, tuple[Run, bool] | NotFound | Conflict]]:
        out = await super().complete_many(env_id, reports, now)
        self.metrics.runs_ended(
            r[0] for _, r in out if isinstance(r, tuple) and r[1]
        )
        return out

    async def expire_overdue(
        self,
        now: datetime,
        *,
        held_before: datetime | None = None,
        skip: Collection[int] = (),
        only: Sequence[int] | None = None,
    ) -> list[Run]:
        got = await super().expire_overdue(now, held_before=held_before, skip=skip, only=only)
        self.metrics.runs_ended(got)
        return got

    # -- notification deliveries ----------------------------------------------------------------
    async def due_deliveries(
        self, now: datetime, limit: int, lease_seconds: float = 120.0
    ) -> list[DueDelivery]:
        got = await super().due_deliveries(now, limit, lease_seconds)
        for d in got:
            self._channels[d.delivery.id] = d.delivery.channel
            self._channels.move_to_end(d.delivery.id)
        while len(self._channels) > CHANNEL_MEMORY:
            self._channels.popitem(last=False)
        return got

    def _outcome(self, delivery_id: int, changed: bool, outcome: str) -> bool:
        channel = self._channels.pop(delivery_id, "other")
        if changed:
            self.metrics.notification_delivery(channel, outcome)
        return changed

    async def mark_sent(self, delivery_id: int, now: datetime) -> bool:
        return self._outcome(delivery_id, await super().mark_sent(delivery_id, now), "sent")

    async def mark_retry(self, delivery_id: int, error: str, next_attempt_at: datetime) -> bool:
        changed = await super().mark_retry(delivery_id, error, next_attempt_at)
        return self._outcome(delivery_id, changed, "retry")

    async def mark_failed(self, delivery_id: int, error: str) -> bool:
        changed = await super().mark_failed(delivery_id, error)
        return self._outcome(delivery_id, changed, "failed")

    async def mark_skipped(self, delivery_id: int, reason: str) -> bool:
        changed = await super().mark_skipped(delivery_id, reason)
        return self._outcome(delivery_id, changed, "skipped")

    # -- retention ------------------------------------------------------------------------------
    async def prune_executions(self, before: datetime, after_id: int, limit: int) -> PruneBatch:
        res = await super().prune_executions(before, after_id, limit)
        self.metrics.rows_pruned("executions", res.deleted)
        return res

    async def prune_notifications(
        self, before: datetime, after_id: int, limit: int
    ) -> PruneBatch:
        res = await super().prune_notifications(before, after_id, limit)
        self.metrics.rows_pruned("notifications", res.deleted)
        return res

    async def prune_audit(self, before: datetime, after_id: int, limit: int) -> PruneBatch:
        res = await super().prune_audit(before, after_id, limit)
        self.metrics.rows_pruned("audit_events", res.deleted)
        return res
