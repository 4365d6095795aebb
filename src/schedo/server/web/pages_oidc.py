"""OIDC sign-in pages (issue 22): ``GET /ui/login/oidc`` sends the browser to the provider,
``GET /ui/login/oidc/callback`` takes it back. ``services/oidc.py`` does the protocol.

What a started sign-in needs on its return (``state``, ``nonce``, the PKCE verifier, the page
to go to) is kept in a short-lived cookie signed with the dashboard's session key. The cookie is
``SameSite=Lax``: the provider's redirect back is a cross-site navigation, which a ``Strict``
cookie would not come with. For the same reason the callback does not redirect straight to the
dashboard (the ``Strict`` session cookie set by a cross-site response chain would not be sent
on its last hop): it answers a small page that moves on to it from this site.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from ..services import oidc
from . import session
from .pages_auth import _login_page
from .render import html
from .routing import WebRoute, safe_next, services, set_session_cookie

router = APIRouter(route_class=WebRoute, include_in_schema=False)
log = logging.getLogger("schedo.web.oidc")

COOKIE = "schedo_oidc"
COOKIE_PATH = "/ui/login/oidc"
MAX_AGE_SECONDS = 600  # a sign-in at the provider must finish within this


def _key(request: Request) -> bytes:
    return hmac.new(session.secret(services(request)), b"schedo/web/oidc/v1",
                    hashlib.sha256).digest()


def _seal(key: bytes, body: dict[str, Any]) -> str:
    payload = session._b64(json.dumps(body, separators=(",", ":")).encode())
    mac = session._b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{mac}"


def _open(key: bytes, raw: str | None, now: float) -> dict[str, Any] | None:
    if not raw or len(raw) > 2048 or raw.count(".") != 1:
        return None
    payload, mac = raw.split(".")
    expected = session._b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        body: dict[str, Any] = json.loads(session._unb64(payload))
        ok = isinstance(body, dict) and all(isinstance(body.get(k), str)
                                            for k in ("s", "n", "v", "next"))
        if not ok or int(body["x"]) <= now:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return body


def _failed(request: Request, exc: oidc.OidcError, next_path: str = "/ui/") -> Response:
    # the operator sees why (a 502 is usually their settings or the provider)
    log.log(logging.WARNING if exc.status >= 500 else logging.INFO,
            "OIDC sign-in refused (%s): %s", exc.status, exc.message)
    page = _login_page(request, next_path, status=exc.status, error=exc.message)
    page.delete_cookie(COOKIE, path=COOKIE_PATH)
    return page


def _config(request: Request) -> oidc.Config:
    cfg = oidc.config(services(request).settings)
    if cfg is None:
        raise oidc.OidcError(404, "Single sign-on is not set up on this server.")
    return cfg


@router.get("/ui/login/oidc")
async def oidc_start(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    try:
        cfg = _config(request)
        url, pending = await oidc.start(cfg)
    except oidc.OidcError as exc:
        return _failed(request, exc, next_path)
    body = {"s": pending.state, "n": pending.nonce, "v": pending.verifier,
            "next": next_path, "x": int(time.time()) + MAX_AGE_SECONDS}
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(COOKIE, _seal(_key(request), body), max_age=MAX_AGE_SECONDS,
                        path=COOKIE_PATH, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    response.headers["Cache-Control"] = "no-store"
    return response


def _checked(request: Request, cfg: oidc.Config) -> tuple[str, oidc.Pending, str]:
    """The code, the started sign-in and the next page, once the callback's parameters
    match the sign-in this browser started; else OidcError 400."""
    q = request.query_params
    kept = _open(_key(request), request.cookies.get(COOKIE), time.time())
    if kept is None:
        raise oidc.OidcError(400, f"The sign-in with {cfg.name} had expired or did not start "
                                  "in this browser. Try again.")
    state = q.get("state", "")
    if not hmac.compare_digest(state.encode(), kept["s"].encode()):
        raise oidc.OidcError(400, f"The answer from {cfg.name} does not belong to the sign-in "
                                  "this browser started (state). Try again.")
    if "iss" in q and q["iss"] != cfg.issuer:  # RFC 9207: the answer names its issuer
        raise oidc.OidcError(400, f"The answer did not come from {cfg.name} (iss).")
    if "error" in q:
        what = (q.get("error_description") or q["error"])[:200]
        raise oidc.OidcError(401, f"{cfg.name} did not sign you in: {what}.")
    code = q.get("code", "")
    if not code or len(code) > 4096:
        raise oidc.OidcError(400, f"The answer from {cfg.name} had no sign-in code.")
    return code, oidc.Pending(state=kept["s"], nonce=kept["n"], verifier=kept["v"]), \
        safe_next(kept["next"])


@router.get("/ui/login/oidc/callback")
async def oidc_callback(request: Request) -> Response:
    svc = services(request)
    next_path = "/ui/"
    try:
        cfg = _config(request)
        code, pending, next_path = _checked(request, cfg)
        email = await oidc.finish(cfg, code, pending)
        agent = request.headers.get("user-agent", "")[:200]
        signed = await oidc.sign_in(svc, email, agent, cfg.name)
    except oidc.OidcError as exc:
        return _failed(request, exc, next_path)
    token = session.new_user_token(signed.session.id, signed.secret, time.time())
    response = html("oidc_done.html", {"next": next_path})
    set_session_cookie(request, response, session.encode(session.secret(svc), token))
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    response.delete_cookie(session.LOGIN_COOKIE, path="/ui/login")
    return response
