"""API key secrets: generation, lookup prefix and keyed digest.

Keys are random 32-byte tokens. Storage keeps only a lookup prefix and an HMAC-SHA256 of the
whole key keyed with the server's pepper (server_meta), compared with ``hmac.compare_digest``.
A slow password hash would cap request throughput and buys nothing for 256-bit random secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "sk_"
LOOKUP_LEN = 16
MIN_KEY_LEN = 16
MAX_KEY_LEN = 256


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    """A webhook signature key or pepper."""
    return secrets.token_urlsafe(32)


def lookup_prefix(key: str) -> str:
    return key[:LOOKUP_LEN]


def digest(pepper: str, key: str) -> str:
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


def matches(pepper: str, key: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(pepper, key), stored_digest)


def shown_prefix(prefix: str) -> str:
    """What listings show of a key after creation."""
    return prefix + "…"
