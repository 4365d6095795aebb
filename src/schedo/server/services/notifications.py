"""Notification use cases (SPEC 4): the history a key may see, and the outbox steps the
notifier (``notify.sender``) takes: fan out, claim due deliveries under a lease, record how
each went, and find the key a webhook delivery is signed with.

The data types of the outbox are re-exported here, so callers need nothing from storage.
"""

from __future__ import annotations

from datetime import datetime

from ..storage.contracts import (
    Delivery,
    DueDelivery,
    Notification,
    NotificationRecord,
    NotifyWork,
)
from .context import Principal, Services

__all__ = [
    "Delivery",
    "DueDelivery",
    "Notification",
    "NotificationRecord",
    "NotifyWork",
]

FAN_OUT_BATCH = 200


def scope(p: Principal) -> int | None:
    """The environment whose notifications the key sees: an admin key sees every environment
    of its organisation (None), an environment key only its own (SPEC 1)."""
    return None if p.admin else p.key_env_id


async def history(svc: Services, p: Principal, limit: int,
                  job_id: int | None = None) -> list[NotificationRecord]:
    """The notifications the key may see, newest first, each with its deliveries; with
    ``job_id``, that job's (NotFound unless the job is in the key's environment)."""
    if job_id is not None:
        await svc.store.get_job(p.env_id, job_id)
        return await svc.store.list_notifications(p.org_id, limit, env_id=p.env_id,
                                                  job_id=job_id)
    return await svc.store.list_notifications(p.org_id, limit, env_id=scope(p))


# -- the outbox, for the notifier ---------------------------------------------------------------


async def work(svc: Services) -> NotifyWork:
    return await svc.store.notify_work()


async def fan_out(svc: Services, now: datetime) -> int:
    """Fan every new notification out into its deliveries (the organisation's addresses at
    this moment, plus ``SCHEDO_NOTIFY_WEBHOOK_URL`` if set); returns how many."""
    webhook_url = svc.settings.notify_webhook_url or None
    fanned = 0
    while True:
        n = await svc.store.fan_out(now, webhook_url, FAN_OUT_BATCH)
        fanned += n
        if n < FAN_OUT_BATCH:
            return fanned


async def claim_due(
    svc: Services, now: datetime, limit: int, lease_seconds: float
) -> list[DueDelivery]:
    return await svc.store.due_deliveries(now, limit, lease_seconds)


async def mark_sent(svc: Services, delivery_id: int, now: datetime) -> bool:
    return await svc.store.mark_sent(delivery_id, now)


async def mark_retry(svc: Services, delivery_id: int, error: str, at: datetime) -> bool:
    return await svc.store.mark_retry(delivery_id, error, at)


async def mark_failed(svc: Services, delivery_id: int, error: str) -> bool:
    return await svc.store.mark_failed(delivery_id, error)


async def mark_skipped(svc: Services, delivery_id: int, reason: str) -> bool:
    return await svc.store.mark_skipped(delivery_id, reason)


async def signing_key(svc: Services, n: Notification) -> str:
    """The webhook signature key of the notification's environment ("" when this server
    cannot unseal it); NotFound when the environment was deleted."""
    env = await svc.store.get_environment(n.organization_id, n.environment_id)
    return env.webhook_signature_key
