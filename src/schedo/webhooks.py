"""Signing and verifying push requests (SPEC 2.4). Standard library only.

A push request carries two signatures, both HMAC-SHA256 keyed with the UTF-8 bytes of the
environment's ``webhook_signature_key``:

- ``x-schedo-signature``: lowercase hex digest of the raw body;
- Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
  ``webhook-signature``, a space-separated list of ``v1,<base64 digest of
  "<webhook-id>.<webhook-timestamp>.<raw body>">`` (several entries during key rotation).

During a key rotation's overlap (issue 22) a request is signed with both keys:
``webhook-signature`` carries two entries, the new key's first, and ``x-schedo-signature``
(one value only) is made with the *previous* key, the one every receiver already has, so a
receiver that checks only that header keeps working until the overlap ends; after it, the new
key alone signs both.

``sign()`` produces these headers (the server's push dispatcher uses it); ``verify()`` is
for receivers written in Python::

    payload = schedo.webhooks.verify(request_body_bytes, request.headers, secret)
    # during a rotation either key works; or pass both: verify(body, headers, [new, old])
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Sequence
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
    body: bytes | str, secret: str, webhook_id: str, timestamp: int | None = None,
    *, previous: str | None = None,
) -> dict[str, str]:
    """The signature headers of a push request whose raw body is ``body``:
    ``x-schedo-signature``, ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.
    ``timestamp`` is Unix seconds (default: now). ``previous``: the key before a rotation,
    still valid (its overlap): ``webhook-signature`` then holds ``secret``'s entry and
    ``previous``'s, in that order, and ``x-schedo-signature`` is ``previous``'s. Pure apart
    from the default timestamp."""
    if not webhook_id or any(c in webhook_id for c in ". \r\n"):
        raise ValueError("webhook_id: must be non-empty, without dots, spaces or newlines")
    raw = _bytes(body)
    keys = [secret.encode("utf-8")]
    if previous and previous != secret:
        keys.append(previous.encode("utf-8"))
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    entries = ["v1," + base64.b64encode(_standard_digest(raw, k, webhook_id, ts)).decode("ascii")
               for k in keys]
    return {
        SIGNATURE_HEADER: _hex_signature(raw, keys[-1]),
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: ts,
        STANDARD_SIGNATURE_HEADER: " ".join(entries),
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


def _keys(secret: str | Sequence[str]) -> list[bytes]:
    given = [secret] if isinstance(secret, str) else list(secret)
    keys = [k.encode("utf-8") for k in given if k]
    if not keys:
        raise WebhookVerificationError("no secret: pass the environment's webhook_signature_key")
    return keys


def _check_age(timestamp: str, tolerance: int, now: float | None) -> None:
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


def _v1_entries(signatures: str) -> list[bytes | None]:
    """The decoded v1 entries of ``webhook-signature`` (None for one that is not base64)."""
    out: list[bytes | None] = []
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            out.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            out.append(None)
    return out


def _any_match(given: Sequence[bytes | None], expected: Sequence[bytes]) -> bool:
    matched = False
    for candidate in given:
        for want in expected:
            # no early exit: every pair is compared, in constant time each
            ok = candidate is not None and hmac.compare_digest(candidate, want)
            matched = ok or matched
    return matched


def verify(
    body: bytes | str,
    headers: Headers,
    secret: str | Sequence[str],
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a push request and return its parsed JSON body.

    ``secret``: the environment's key, or several (during your own switch to a rotated key:
    the new and the old). Some ``v1`` entry of ``webhook-signature`` must match one of them
    (it covers the id, the timestamp and the body), and ``x-schedo-signature`` too, except
    while the request carries several ``v1`` entries (a rotation's overlap: that header is
    then made with the previous key, which a receiver already given the new one may not
    hold). Compared in constant time; the ``webhook-timestamp`` must be within
    ``tolerance`` seconds of ``now`` (default: the current time) either way. Header names
    are case-insensitive. Raises ``WebhookVerificationError`` saying what is wrong.
    """
    keys = _keys(secret)
    raw = _bytes(body)
    h = _lower(headers)

    given_hex = _require(h, SIGNATURE_HEADER).lower()
    webhook_id = _require(h, ID_HEADER)
    timestamp = _require(h, TIMESTAMP_HEADER)
    signatures = _require(h, STANDARD_SIGNATURE_HEADER)
    _check_age(timestamp, tolerance, now)

    entries = _v1_entries(signatures)
    hex_given = [given_hex.encode("ascii", "replace")]
    hex_ok = _any_match(hex_given, [_hex_signature(raw, k).encode("ascii") for k in keys])
    if not hex_ok and len(entries) < 2:
        raise WebhookVerificationError(f"{SIGNATURE_HEADER}: signature does not match the body")
    if not entries:
        raise WebhookVerificationError(f"{STANDARD_SIGNATURE_HEADER}: no v1 signature")
    if not _any_match(entries, [_standard_digest(raw, k, webhook_id, timestamp) for k in keys]):
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
