"""The JSON notification channel: a signed POST to ``SCHEDO_NOTIFY_WEBHOOK_URL``.

Body::

    {"type": "job.failing" | "job.recovered", "notification_id", "job_id", "job_name",
     "environment_id", "execution_id", "status", "attempt", "scheduled_for", "ended_at",
     "error", "output", "url"}

Signed exactly like push requests (SPEC 2.4, the same ``push.signed.post``) with the job's
environment's ``webhook_signature_key``, so receivers verify it with
``schedo.webhooks.verify``; ``webhook-id`` is ``ntf_<notification id>``, the same on every try
(receivers drop repeats by it). It goes through the push module's outbound client (address
guard, no redirects, timeouts). Any 2xx delivers it; a 4xx other than 408, 425 and 429 is a
permanent failure (the receiver refuses it); anything else is retried.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.timefmt import rfc3339
from ..push import signed
from ..push.http import DeliveryResult, OutboundClient
from ..services.notifications import Notification
from . import SENT, Outcome
from .render import run_url

TIMEOUT = 15.0
EXCERPT = 300
RETRYABLE_4XX = frozenset({408, 425, 429})


def webhook_id(n: Notification) -> str:
    return f"ntf_{n.id}"


def payload(n: Notification, public_url: str) -> dict[str, Any]:
    return {
        "type": f"job.{n.kind}",
        "notification_id": n.id,
        "job_id": n.job_id,
        "job_name": n.job_name,
        "environment_id": n.environment_id,
        "execution_id": n.execution_id,
        "status": n.execution_status,
        "attempt": n.attempt,
        "scheduled_for": rfc3339(n.scheduled_for),
        "ended_at": rfc3339(n.ended_at),
        "error": n.error,
        "output": n.output,
        "url": run_url(public_url, n.job_id, n.execution_id),
    }


def outcome(res: DeliveryResult) -> Outcome:
    if res.status is None:
        return Outcome(False, res.error or "delivery failed")
    if 200 <= res.status < 300:
        return SENT
    text = " ".join(res.body.decode("utf-8", "replace").split())[:EXCERPT]
    error = f"webhook answered HTTP {res.status}" + (f": {text}" if text else "")
    permanent = 400 <= res.status < 500 and res.status not in RETRYABLE_4XX
    return Outcome(False, error, permanent)


async def deliver(
    client: OutboundClient,
    url: str,
    n: Notification,
    *,
    secret: str,
    public_url: str,
    now: datetime,
    previous: str = "",
) -> Outcome:
    res = await signed.post(client, url, payload(n, public_url), secret=secret,
                            message_id=webhook_id(n), now=now, timeout=TIMEOUT,
                            previous=previous)
    return outcome(res)
