"""Plumbing shared by the dashboard's pages: the signed-in session, forms with CSRF checks,
and a route class that turns every error into an HTML page (never a JSON body or a 500)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from ..domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    SchedoError,
    Unauthorized,
    Unavailable,
)
from ..domain.permissions import allows, refusal
from ..domain.records import ApiKey, Environment
from ..services import tenants
from ..services.context import Principal, Services
from . import session
from .permissions import action_of
from .render import html

log = logging.getLogger("schedo.web")

MAX_FORM_FIELDS = 100
ERROR_STATUS: dict[type[SchedoError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}


class LoginRequired(Exception):
    """No valid session: send the browser to the sign-in page."""


class CsrfRejected(Exception):
    """A POST without the session's CSRF token."""


@dataclass(frozen=True)
class WebSession:
    """The signed-in user of one request."""

    svc: Services
    principal: Principal
    key: ApiKey
    token: session.Token
    secret: bytes
    environments: list[Environment]
    environment: Environment
    now: datetime

    @property
    def csrf(self) -> str:
        return session.csrf_for(self.secret, self.token.nonce)

    def context(self, request: Request, **extra: Any) -> dict[str, Any]:
        """What every full page needs (layout, navigation, forms)."""
        return {
            "ws": self,
            "p": self.principal,
            "csrf": self.csrf,
            "now": self.now,
            "path": request.url.path,
            "here": here(request),
            "done": None,
            "error": None,
            **extra,
        }


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def here(request: Request) -> str:
    """This page's path and query (for ``next`` after sign-in or after switching)."""
    q = request.url.query
    return request.url.path + ("?" + q if q else "")


def safe_next(value: str | None, default: str = "/ui/") -> str:
    """Only dashboard paths on this site: no open redirects."""
    if (
        not value
        or not value.startswith("/ui")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 32 for c in value)
    ):
        return default
    return value


async def current(request: Request) -> WebSession:
    """FastAPI dependency: the session of this request, re-checked against the key store."""
    svc = services(request)
    secret = session.secret(svc)
    token = session.decode(secret, request.cookies.get(session.COOKIE), time.time())
    if token is None:
        raise LoginRequired
    found = await session.resolve(svc, token)
    if found is None:
        raise LoginRequired
    p, record, user_envs = found
    envs = user_envs if user_envs is not None else await tenants.visible_environments(svc, p)
    env = next((e for e in envs if e.id == p.env_id), None)
    if env is None:
        raise LoginRequired
    return WebSession(
        svc=svc,
        principal=p,
        key=record,
        token=token,
        secret=secret,
        environments=envs,
        environment=env,
        now=svc.clock.now(),
    )


async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST. The API's JSON middleware relabels non-JSON bodies as
    JSON, so the body is parsed here whatever its content-type says."""
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        raise InvalidInput("form: send the form url-encoded")
    body = (await request.body()).decode("utf-8", "replace")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise InvalidInput("form: too many fields") from None
    form: dict[str, str] = {}
    for k, v in pairs:
        form.setdefault(k, v)
    return form


async def checked_form(request: Request, ws: WebSession) -> dict[str, str]:
    """The form of a POST, after its CSRF token and the permission its route needs
    (web/permissions.py): 403 naming it, before anything is changed."""
    form = await read_form(request)
    if not session.csrf_ok(ws.secret, ws.token.nonce, form.get("csrf")):
        raise CsrfRejected
    route = request.scope.get("route")
    action = action_of(getattr(route, "path", ""), request.path_params)
    if not allows(ws.principal.grant, action):
        raise Forbidden(refusal(ws.principal.grant, action))
    return form


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def set_session_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        session.COOKIE,
        value,
        max_age=session.TTL_SECONDS,
        path=session.COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        session.COOKIE,
        path=session.COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def login_url(next_path: str | None = None, reason: str | None = None) -> str:
    params = {}
    if next_path and safe_next(next_path, "") and next_path != "/ui/":
        params["next"] = next_path
    if reason:
        params["reason"] = reason
    return "/ui/login" + ("?" + urlencode(params, quote_via=quote) if params else "")


def _login_required(request: Request) -> Response:
    if request.headers.get("hx-request"):
        page = request.headers.get("hx-current-url", "")
        path = page.split("://", 1)[-1]
        path = path[path.find("/") :] if "/" in path else "/ui/"
        return Response(status_code=200, headers={"HX-Redirect": login_url(path, "expired")})
    if request.method != "GET":
        return redirect(login_url(None, "expired"))
    target = here(request)
    has_cookie = session.COOKIE in request.cookies
    if not has_cookie and request.query_params.get("_b") != "1":
        # SameSite=Strict cookies are not sent on a navigation that comes from another site
        # (a link in a notification email). Reload once from our own page, which sends them.
        sep = "&" if "?" in target else "?"
        return html("bounce.html", {"target": target + sep + "_b=1"})
    if request.query_params.get("_b") == "1":
        target = target.replace("?_b=1", "").replace("&_b=1", "")
    return redirect(login_url(target, "expired" if has_cookie else None))


def error_page(status: int, message: str) -> Response:
    titles = {
        400: "That did not work",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        503: "Database unavailable",
    }
    return html(
        "error.html",
        {"status": status, "title": titles.get(status, "Something went wrong"), "message": message},
        status=status,
    )


Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class WebRoute(APIRoute):
    """Every dashboard route: errors become HTML pages with the right status."""

    def get_route_handler(self) -> Endpoint:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except LoginRequired:
                return _login_required(request)
            except CsrfRejected:
                return error_page(
                    403,
                    "The form was stale or did not come from this dashboard. "
                    "Reload the page and try again.",
                )
            except RequestValidationError:
                return error_page(404, "There is no such page.")
            except Unavailable as exc:
                log.warning(
                    "database error on %s %s: %s",
                    request.method,
                    request.url.path,
                    exc.driver_error,
                )
                return error_page(503, "The database is not reachable right now; retry shortly.")
            except SchedoError as exc:
                return error_page(ERROR_STATUS.get(type(exc), 400), str(exc))
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                return error_page(500, "Something went wrong on the server; it has been logged.")

        return handler
