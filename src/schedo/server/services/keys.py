"""API key secrets: generation, lookup prefix and keyed digest.

Keys are random 32-byte tokens. Storage keeps only a lookup prefix and an HMAC-SHA256 of the
whole key keyed with the server's pepper (server_meta), compared with ``hmac.compare_digest``.
A slow password hash would cap request throughput and buys nothing for 256-bit random secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

KEY_PREFIX = "sk_"
LOOKUP_LEN = 16
MIN_KEY_LEN = 16
MAX_KEY_LEN = 256


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def key_problem(key: str) -> str | None:
    """Why ``key`` can never be an API key (too short or long, a control character such as
    NUL), or None. Generated keys are URL-safe ASCII; a chosen one (SCHEDO_ADMIN_KEY,
    ``schedo admin-key --value``) must pass this too."""
    if not MIN_KEY_LEN <= len(key) <= MAX_KEY_LEN:
        return f"must be {MIN_KEY_LEN} to {MAX_KEY_LEN} characters"
    if _CONTROL.search(key):
        return "must not contain control characters"
    return None


def plausible(key: str) -> bool:
    """Could ``key`` be a key of this server? Others are refused before any lookup (a NUL
    would be a PostgreSQL error, not a wrong key)."""
    return key_problem(key) is None


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    """A webhook signature key or pepper."""
    return secrets.token_urlsafe(32)


def lookup_prefix(key: str) -> str:
    return key[:LOOKUP_LEN]


def digest(pepper: str, key: str) -> str:
    # one-shot HMAC (C): the same hex digest as hmac.new(...).hexdigest(), a third of the cost
    return hmac.digest(pepper.encode(), key.encode(), hashlib.sha256).hex()


def matches(pepper: str, key: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(pepper, key), stored_digest)


def shown_prefix(prefix: str) -> str:
    """What listings show of a key after creation."""
    return prefix + "…"
