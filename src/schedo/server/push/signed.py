"""The signed webhook POST, built once for both senders: push deliveries (``dispatcher``) and
the JSON notification channel (``notify.webhook``).

The body is compact UTF-8 JSON; the headers are ``content-type: application/json`` and the
signature headers of SPEC 2.4 (``schedo.webhooks.sign``: ``x-schedo-signature`` and the
Standard Webhooks ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature``), signed with
the environment's ``webhook_signature_key``, so receivers check either with
``schedo.webhooks.verify``. During a key rotation's overlap the previous key signs too
(``previous``: both ``webhook-signature`` entries, the new first; ``x-schedo-signature`` with
the previous key, see ``schedo.webhooks``). It goes out through the one outbound client
(``http``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ...webhooks import sign
from .http import DeliveryResult, OutboundClient


def body(payload: dict[str, Any]) -> bytes:
    """The request body: compact JSON, non-ASCII text kept as UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def headers(raw: bytes, secret: str, message_id: str, now: datetime,
            previous: str = "") -> dict[str, str]:
    """Content type and signature headers for ``raw`` sent at ``now`` (``previous``: the
    key before a rotation, while its overlap runs)."""
    return {"content-type": "application/json",
            **sign(raw, secret, message_id, int(now.timestamp()), previous=previous or None)}


async def post(
    client: OutboundClient,
    url: str,
    payload: dict[str, Any],
    *,
    secret: str,
    message_id: str,
    now: datetime,
    timeout: float,  # noqa: ASYNC109 (the outbound client's per-request deadline)
    previous: str = "",
) -> DeliveryResult:
    """POST ``payload`` to ``url`` signed with ``secret`` (and ``previous`` during a
    rotation's overlap); ``message_id`` is the ``webhook-id`` (the same on every retry of
    one message, so receivers drop repeats)."""
    raw = body(payload)
    return await client.post(url, raw, headers(raw, secret, message_id, now, previous),
                             timeout=timeout)
