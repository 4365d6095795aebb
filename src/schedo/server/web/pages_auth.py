"""Sign-in, sign-out, the environment switcher, and the browser entry point ``GET /``."""

from __future__ import annotations

import hmac
import math
import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from ..domain.errors import InvalidInput, NotFound, SchedoError, Unauthorized
from ..domain.permissions import Action, allows
from ..domain.text import digits
from ..services import people
from ..services.auth import authenticate, find_key
from ..services.context import Services
from . import session
from .render import html
from .routing import (
    WebRoute,
    WebSession,
    checked_form,
    clear_session_cookie,
    current,
    read_form,
    redirect,
    safe_next,
    services,
    set_session_cookie,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Session = Annotated[WebSession, Depends(current)]

REASONS = {
    "expired": "Your session has ended. Sign in again to continue.",
    "signedout": "You are signed out.",
    "revoked": "The key you signed in with was revoked. Sign in with another key.",
    "session-revoked": "Your session was ended. Sign in again to continue.",
}
LOGIN_COOKIE_AGE = 3600


@router.get("/")
async def root(request: Request) -> Response:
    """Browsers go to the dashboard; API clients get the API's usual 404."""
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/ui/", status_code=302)
    return JSONResponse(
        {
            "message": "not found: the API lives at /jobs, /org, /apikeys (see /docs); "
            "the dashboard at /ui/"
        },
        status_code=404,
    )


@router.get("/ui")
async def ui_slash() -> Response:
    return RedirectResponse("/ui/", status_code=302)


def _login_page(
    request: Request,
    next_path: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = html(
        "login.html",
        {"csrf": token, "next": next_path, "error": error, "notice": notice,
         "oidc_name": _oidc_name(request)},
        status=status,
    )
    response.set_cookie(
        session.LOGIN_COOKIE,
        token,
        max_age=LOGIN_COOKIE_AGE,
        path="/ui/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _oidc_name(request: Request) -> str | None:
    """The provider's name for the "Sign in with" button; None when OIDC is off."""
    settings = services(request).settings
    return settings.oidc_name if settings.oidc_enabled else None


@router.get("/ui/login")
async def login_form(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    try:
        await current(request)
    except Exception:  # not signed in (or a stale cookie): show the form
        reason = request.query_params.get("reason", "")
        return _login_page(request, next_path, notice=REASONS.get(reason))
    return redirect(next_path)


@router.post("/ui/login")
async def login(request: Request) -> Response:
    svc = services(request)
    form = await read_form(request)
    next_path = safe_next(form.get("next"))
    expected = request.cookies.get(session.LOGIN_COOKIE, "")
    given = form.get("csrf", "")
    if not expected or not hmac.compare_digest(expected, given):
        return _login_page(
            request,
            next_path,
            status=400,
            error="The sign-in form had expired or did not come from this page. Try again.",
        )
    api_key = form.get("api_key", "").strip()
    with_password = "email" in form
    if not api_key and not with_password:
        return _login_page(request, next_path, status=400, error="Enter an API key.")
    # the API's limit on failed authentications per address covers this form too
    limiter = getattr(request.app.state, "limiter", None)
    address = limiter.address(request.scope) if limiter is not None else ""
    wait = limiter.blocked(address) if limiter is not None else 0.0
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        page = _login_page(
            request,
            next_path,
            status=429,
            error=f"Too many failed sign-ins from this address. Try again in {seconds} s.",
        )
        page.headers["Retry-After"] = str(seconds)
        return page
    if with_password:
        return await _password_login(request, form, next_path, limiter, address)
    try:
        principal = await authenticate(svc, api_key, None)
    except Unauthorized:
        if limiter is not None:
            limiter.failed(address)
        return _login_page(
            request,
            next_path,
            status=401,
            error="That API key is unknown or has been revoked.",
        )
    except (InvalidInput, NotFound) as exc:
        return _login_page(request, next_path, status=400, error=str(exc))
    record = await find_key(svc, api_key)
    if record is None:  # revoked and deleted in between: treat as unknown
        return _login_page(
            request, next_path, status=401, error="That API key is unknown or has been revoked."
        )
    if not allows(principal.grant, Action.VIEW):
        return _login_page(request, next_path, status=403, error=(
            "A worker key cannot sign in to the dashboard: it may only pull and report runs. "
            "Use a key with scope read or above, or your email and password."))
    token = session.new_token(record, principal.env_id, time.time())
    return _signed_in(request, svc, next_path, token)


def _signed_in(request: Request, svc: Services, next_path: str,
               token: session.Token) -> Response:
    response = redirect(next_path)
    set_session_cookie(request, response, session.encode(session.secret(svc), token))
    response.delete_cookie(session.LOGIN_COOKIE, path="/ui/login")
    return response


async def _password_login(request: Request, form: dict[str, str], next_path: str,
                          limiter: Any, address: str) -> Response:
    """Sign in with an email address and a password (a user, issue 22)."""
    svc = services(request)
    email, password = form.get("email", "").strip(), form.get("password", "")
    if not email or not password:
        return _login_page(request, next_path, status=400,
                           error="Enter your email address and your password.")
    agent = request.headers.get("user-agent", "")[:200]
    client = address or (request.client.host if request.client else "")
    signed = await people.sign_in(svc, email, password, agent, client)
    if signed is None:
        if limiter is not None:
            limiter.failed(address)
        return _login_page(request, next_path, status=401,
                           error="That email address and password do not match an account.")
    token = session.new_user_token(signed.session.id, signed.secret, time.time())
    return _signed_in(request, svc, next_path, token)


@router.post("/ui/logout")
async def logout(request: Request, ws: Session) -> Response:
    await checked_form(request, ws)
    if ws.token.user_session is not None:  # a user's session ends on the server too
        await people.sign_out(ws.svc, ws.principal, ws.token.user_session)
    response = redirect("/ui/login?reason=signedout")
    clear_session_cookie(request, response)
    return response


def _after_switch(next_path: str) -> str:
    """A page of one job or run belongs to the old environment: go to the overview."""
    path = safe_next(next_path)
    if path.startswith("/ui/jobs/"):
        return "/ui/jobs"
    return path


@router.post("/ui/env")
async def switch_environment(request: Request, ws: Session) -> Response:
    form = await checked_form(request, ws)
    raw = form.get("env_id", "")
    # admins, and users with roles in several environments, switch
    if not digits(raw) or not (ws.principal.admin or len(ws.environments) > 1):
        raise InvalidInput("environment: choose one of the listed environments")
    env_id = int(raw)
    if env_id not in {e.id for e in ws.environments}:
        raise NotFound(f"environment {env_id} not found")
    response = redirect(_after_switch(form.get("next", "/ui/")))
    token = session.with_env(ws.token, env_id)
    set_session_cookie(request, response, session.encode(ws.secret, token))
    return response


def switch_cookie(request: Request, response: Response, ws: WebSession, env_id: int) -> None:
    """Move an admin's session to another environment (used when a link points there)."""
    if not any(e.id == env_id for e in ws.environments):
        raise SchedoError("only admins and members of several environments switch")
    token = session.with_env(ws.token, env_id)
    set_session_cookie(request, response, session.encode(ws.secret, token))
