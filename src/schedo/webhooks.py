"""Signing and verifying push requests (SPEC 2.4). Standard library only.

A push request carries two signatures, both HMAC-SHA256 keyed with the UTF-8 bytes of the
environment's ``webhook_signature_key``:

- ``x-schedo-signature``: lowercase hex digest of the raw body;
- Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
  ``webhook-signature``, a space-separated list of ``v1,<base64 digest of
  "<webhook-id>.<webhook-timestamp>.<raw body>">`` (several entries during key rotation).

``sign()`` produces these headers (the server's push dispatcher uses it); ``verify()`` is
for receivers written in Python::

    payload = schedo.webhooks.verify(request_body_bytes, request.headers, secret)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any, Protocol

from .sdk.errors import WebhookVerificationError

__all__ = ["Headers", "WebhookVerificationError", "sign", "verify"]


class Headers(Protocol):
    """Anything with ``items()`` giving (name, value) pairs: a dict, a ``Mapping[str, str]``,
    Starlette's or httpx's headers, ``http.server``'s message, werkzeug's headers..."""

    def items(self) -> Iterable[tuple[str, str]]: ...


SIGNATURE_HEADER = "x-schedo-signature"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
DEFAULT_TOLERANCE = 300


def _bytes(value: bytes | bytearray | memoryview | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _hex_signature(body: bytes, key: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _standard_digest(body: bytes, key: bytes, webhook_id: str, timestamp: str) -> bytes:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(
    body: bytes | str, secret: str, webhook_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The signature headers of a push request whose raw body is ``body``:
    ``x-schedo-signature``, ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.
    ``timestamp`` is Unix seconds (default: now). Pure apart from that default."""
    if not webhook_id or any(c in webhook_id for c in ". \r\n"):
        raise ValueError("webhook_id: must be non-empty, without dots, spaces or newlines")
    raw = _bytes(body)
    key = secret.encode("utf-8")
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    digest = _standard_digest(raw, key, webhook_id, ts)
    return {
        SIGNATURE_HEADER: _hex_signature(raw, key),
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: ts,
        STANDARD_SIGNATURE_HEADER: "v1," + base64.b64encode(digest).decode("ascii"),
    }


def _lower(headers: Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
        val = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        out.setdefault(key, val)
    return out


def _require(h: dict[str, str], name: str) -> str:
    value = h.get(name, "").strip()
    if not value:
        raise WebhookVerificationError(f"missing header {name}")
    return value


def verify(
    body: bytes | str,
    headers: Headers,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a push request and return its parsed JSON body.

    Both signatures must be present and valid, compared in constant time; the
    ``webhook-timestamp`` must be within ``tolerance`` seconds of ``now`` (default: the
    current time) either way. Header names are case-insensitive. Raises
    ``WebhookVerificationError`` saying what is wrong.
    """
    if not secret:
        raise WebhookVerificationError("no secret: pass the environment's webhook_signature_key")
    raw = _bytes(body)
    key = secret.encode("utf-8")
    h = _lower(headers)

    given_hex = _require(h, SIGNATURE_HEADER).lower()
    webhook_id = _require(h, ID_HEADER)
    timestamp = _require(h, TIMESTAMP_HEADER)
    signatures = _require(h, STANDARD_SIGNATURE_HEADER)

    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError(
            f"{TIMESTAMP_HEADER}: {timestamp[:40]!r} is not Unix seconds"
        ) from None
    current = time.time() if now is None else now
    if sent_at < current - tolerance:
        raise WebhookVerificationError(
            f"{TIMESTAMP_HEADER}: the request is too old ({int(current - sent_at)} s, "
            f"tolerance {tolerance} s)"
        )
    if sent_at > current + tolerance:
        raise WebhookVerificationError(
            f"{TIMESTAMP_HEADER}: the request is too far in the future "
            f"({int(sent_at - current)} s, tolerance {tolerance} s)"
        )

    if not hmac.compare_digest(
        given_hex.encode("ascii", "replace"), _hex_signature(raw, key).encode("ascii")
    ):
        raise WebhookVerificationError(f"{SIGNATURE_HEADER}: signature does not match the body")

    expected = _standard_digest(raw, key, webhook_id, timestamp)
    matched = False
    versions = 0
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        versions += 1
        try:
            candidate = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        # no early exit: every v1 entry is compared, in constant time each
        matched = hmac.compare_digest(candidate, expected) or matched
    if versions == 0:
        raise WebhookVerificationError(f"{STANDARD_SIGNATURE_HEADER}: no v1 signature")
    if not matched:
        raise WebhookVerificationError(
            f"{STANDARD_SIGNATURE_HEADER}: no v1 signature matches the request"
        )

    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WebhookVerificationError("body: not valid JSON") from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("body: not a JSON object")
    return payload
