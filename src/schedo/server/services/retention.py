"""Retention steps (docs/hardening.md): delete old history one small window at a time. The
loop that paces them is ``scheduler.retention``."""

from __future__ import annotations

from datetime import datetime

from ..storage.contracts import PruneBatch
from .context import Services

__all__ = ["PruneBatch"]


async def prune_executions(
    svc: Services, before: datetime, after_id: int, limit: int
) -> PruneBatch:
    """One window of executions (``RetentionStore.prune_executions``)."""
    return await svc.store.prune_executions(before, after_id, limit)


async def prune_notifications(
    svc: Services, before: datetime, after_id: int, limit: int
) -> PruneBatch:
    """One window of notifications with their deliveries."""
    return await svc.store.prune_notifications(before, after_id, limit)


async def prune_people(svc: Services, now: datetime) -> int:
    """Ended dashboard sessions and expired invitations (no history: nothing reads them)."""
    return await svc.store.prune_people(now)


async def prune_audit(svc: Services, before: datetime, after_id: int, limit: int) -> PruneBatch:
    """One window of audit events (kept as long as the runs: ``SCHEDO_RETENTION_DAYS``)."""
    return await svc.store.prune_audit(before, after_id, limit)
