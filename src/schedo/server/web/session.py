"""Dashboard sessions and CSRF tokens.

Design (docs/dashboard.md has the long form):

- Signing in checks the API key with ``services.auth.authenticate`` exactly like the API does.
  The key itself is never stored: the session cookie holds a signed, expiring token with the
  key's id, its public lookup prefix, a tag of its stored digest, the chosen environment (admin
  keys) and a random nonce.
- The signing secret is derived from the server's API-key pepper (kept in the database), so every
  server process sharing a database accepts the same cookies and a restart keeps people signed
  in. Nothing else needs configuring.
- Every request re-reads the key by its prefix (one indexed read, the same one the API's
  authentication does) and checks id, digest tag and ``revoked``: revoking a key ends its
  dashboard sessions on their next request.
- A user's session (issue 22, email and password) is a row of ``user_sessions``: the token
  holds its id and a random secret whose keyed digest is stored; every request reads the row
  (``services.people.resume``), so revoking it, removing the user or their last role signs
  them out on their next request.
- CSRF: each form carries ``HMAC(secret, "csrf." + nonce)``; every POST is checked against the
  nonce of the session. The sign-in form (no session yet) uses a double-submit cookie. The
  cookies are also ``HttpOnly`` and ``SameSite=Strict``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, replace
from functools import lru_cache

from ..domain.permissions import Action, allows
from ..domain.records import ApiKey, Environment
from ..services import auth, people
from ..services.context import Principal, Services

COOKIE = "schedo_session"
LOGIN_COOKIE = "schedo_login_csrf"
COOKIE_PATH = "/ui"
TTL_SECONDS = 12 * 3600
DIGEST_TAG_LEN = 16
_VERSION = 1


@dataclass(frozen=True, slots=True)
class Token:
    key_id: int
    prefix: str  # the key's lookup prefix (public: listings show it)
    digest_tag: str  # the start of the key's stored digest: binds the token to that exact key
    env_id: int | None  # the environment an admin key works in (None: the org's first)
    nonce: str  # random per sign-in; the CSRF token is derived from it
    expires: int  # Unix seconds
    user_session: int | None = None  # a user's session (then no key: key_id 0)
    user_secret: str = ""  # that session's secret (its digest is stored)


@lru_cache(maxsize=8)
def _derive(pepper: str) -> bytes:
    return hmac.new(pepper.encode(), b"schedo/web/session/v1", hashlib.sha256).digest()


def secret(svc: Services) -> bytes:
    """The per-server signing key (derived from the pepper stored in the database)."""
    if not svc.pepper:
        raise RuntimeError("the server has not loaded its key pepper yet")
    return _derive(svc.pepper)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, purpose: str, data: str) -> str:
    return _b64(hmac.new(key, f"{purpose}.{data}".encode(), hashlib.sha256).digest())


def new_token(record: ApiKey, env_id: int | None, now: float) -> Token:
    return Token(
        key_id=record.id,
        prefix=record.prefix,
        digest_tag=record.digest[:DIGEST_TAG_LEN],
        env_id=env_id if record.admin else None,
        nonce=secrets.token_urlsafe(16),
        expires=int(now) + TTL_SECONDS,
    )


def new_user_token(session_id: int, secret: str, now: float) -> Token:
    return Token(key_id=0, prefix="", digest_tag="", env_id=None,
                 nonce=secrets.token_urlsafe(16), expires=int(now) + TTL_SECONDS,
                 user_session=session_id, user_secret=secret)


def with_env(token: Token, env_id: int) -> Token:
    return replace(token, env_id=env_id)


def encode(key: bytes, token: Token) -> str:
    body = {
        "v": _VERSION,
        "k": token.key_id,
        "p": token.prefix,
        "d": token.digest_tag,
        "e": token.env_id,
        "n": token.nonce,
        "x": token.expires,
    }
    if token.user_session is not None:
        body["u"], body["s"] = token.user_session, token.user_secret
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sign(key, 'session', payload)}"


def decode(key: bytes, raw: str | None, now: float) -> Token | None:
    """The token in a cookie value, or None when it is missing, forged, malformed or expired."""
    if not raw or len(raw) > 1024 or raw.count(".") != 1:
        return None
    payload, signature = raw.split(".")
    if not hmac.compare_digest(signature, _sign(key, "session", payload)):
        return None
    try:
        body = json.loads(_unb64(payload))
        token = Token(
            key_id=int(body["k"]),
            prefix=str(body["p"]),
            digest_tag=str(body["d"]),
            env_id=None if body["e"] is None else int(body["e"]),
            nonce=str(body["n"]),
            expires=int(body["x"]),
            user_session=None if body.get("u") is None else int(body["u"]),
            user_secret=str(body.get("s", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if body.get("v") != _VERSION or token.expires <= now:
        return None
    return token


def csrf_for(key: bytes, nonce: str) -> str:
    return _sign(key, "csrf", nonce)


def csrf_ok(key: bytes, nonce: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_for(key, nonce), given or "")


Resolved = tuple[Principal, ApiKey, list[Environment] | None]


async def resolve(svc: Services, token: Token) -> Resolved | None:
    """Re-authenticate the token's key or user session (never cached): None if it is gone,
    revoked or not the one the token was issued for, or when it may not see the dashboard
    (a worker key). An admin whose chosen environment was deleted falls back to the
    organisation's first environment. The environments are those a user may switch to
    (None for a key: the caller asks the tenants)."""
    if token.user_session is not None:
        return await _resolve_user(svc, token, token.user_session)
    if len(token.digest_tag) != DIGEST_TAG_LEN:
        return None
    found = await auth.recheck(svc, key_id=token.key_id, prefix=token.prefix,
                               digest_tag=token.digest_tag, env_id=token.env_id)
    if found is None or not allows(found[0].grant, Action.VIEW):
        return None
    return found[0], found[1], None


async def _resolve_user(svc: Services, token: Token, session_id: int) -> Resolved | None:
    got = await people.resume(svc, session_id, token.user_secret, token.env_id)
    if got is None:
        return None
    p, s = got.principal, got.session
    # the dashboard's pages know a session by its key: a user's is a stand-in (id 0, never
    # a real key's id) named after the user
    stand_in = ApiKey(id=0, organization_id=p.org_id, environment_id=None, name=p.key_name,
                      prefix="", digest="", admin=p.admin, internal=False, revoked=False,
                      created_at=s.created_at, scope=p.grant)
    return p, stand_in, got.environments
