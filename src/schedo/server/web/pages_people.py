"""People (issue 22): the organisation's users and their roles, invitations by email, the
dashboard sessions (yours; an organisation-wide admin's: everyone's) and the invitation link
where an invitee sets a password. Permissions: web/permissions.py and services/people.py."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from ...limits import MAX_ID
from ..domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..domain.permissions import Action, Role, allows
from ..domain.text import digits
from ..services import people
from . import session
from .render import html
from .routing import (
    WebRoute,
    WebSession,
    checked_form,
    clear_session_cookie,
    current,
    login_url,
    read_form,
    redirect,
    services,
    set_session_cookie,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Session = Annotated[WebSession, Depends(current)]
Id = Annotated[int, Path(gt=0, le=MAX_ID)]
Failures = (InvalidInput, Forbidden, NotFound, Conflict)
INVITE_COOKIE = "schedo_invite_csrf"
DONE = {
    "role": "Role changed.",
    "removed": "User removed: their sessions ended.",
    "revoked": "Session ended: its next request is signed out.",
}


STATUS: dict[type[Exception], int] = {Forbidden: 403, NotFound: 404, Conflict: 409}


def _status(exc: Exception) -> int:
    return STATUS.get(type(exc), 400)


def _env_choice(raw: str) -> int | None:
    """The environment field of a form: ``all`` (organisation-wide) or an id."""
    if raw == "all":
        return None
    if not digits(raw) or not 0 < int(raw) <= MAX_ID:
        raise InvalidInput("environment: choose one of the listed environments")
    return int(raw)


async def render_people(request: Request, ws: WebSession, *, done: str = "",
                        error: str | None = None, invited: people.Invited | None = None,
                        status: int = 200) -> Response:
    if not allows(ws.principal.grant, Action.ADMIN):
        raise Forbidden("permission denied: the People page needs the admin role")
    listed = await people.people(ws.svc, ws.principal)
    env_names = {e.id: e.name for e in ws.environments}
    ctx = ws.context(request, done=DONE.get(done), error=error, people=listed,
                     roles=[r.value for r in Role], env_names=env_names, invited=invited)
    return html("people.html", ctx, status=status, headers={"Cache-Control": "no-store"})


@router.get("/ui/people")
async def people_page(request: Request, ws: Session, done: str = "") -> Response:
    return await render_people(request, ws, done=done)


@router.post("/ui/people/invite")
async def invite(request: Request, ws: Session) -> Response:
    form = await checked_form(request, ws)
    mailer = getattr(request.app.state, "mailer", None)
    try:
        env_id = _env_choice(form.get("environment", ""))
        got = await people.invite(ws.svc, ws.principal, form.get("email", ""),
                                  form.get("role", ""), env_id, mailer)
    except Failures as exc:
        return await render_people(request, ws, error=str(exc), status=_status(exc))
    return await render_people(request, ws, invited=got)


@router.post("/ui/people/{user_id}/role")
async def change_role(request: Request, user_id: Id, ws: Session) -> Response:
    form = await checked_form(request, ws)
    role = form.get("role", "")
    try:
        env_id = _env_choice(form.get("environment", ""))
        await people.set_role(ws.svc, ws.principal, user_id, env_id,
                              None if role == "none" else role)
    except Failures as exc:
        return await render_people(request, ws, error=str(exc), status=_status(exc))
    return redirect("/ui/people?done=role")


@router.post("/ui/people/{user_id}/remove")
async def remove(request: Request, user_id: Id, ws: Session) -> Response:
    await checked_form(request, ws)
    try:
        await people.remove_user(ws.svc, ws.principal, user_id)
    except Failures as exc:
        return await render_people(request, ws, error=str(exc), status=_status(exc))
    if user_id == ws.principal.user_id:
        return _signed_out(request)
    return redirect("/ui/people?done=removed")


# -- sessions ----------------------------------------------------------------------------------


def _everyone(ws: WebSession) -> bool:
    return ws.principal.admin and allows(ws.principal.grant, Action.ADMIN)


@router.get("/ui/sessions")
async def sessions_page(request: Request, ws: Session, done: str = "") -> Response:
    return await render_sessions(request, ws, done=done)


async def render_sessions(request: Request, ws: WebSession, *, done: str = "",
                          error: str | None = None, status: int = 200) -> Response:
    mine = await people.sessions(ws.svc, ws.principal, everyone=False)
    everyone = await people.sessions(ws.svc, ws.principal, everyone=True) \
        if _everyone(ws) else []
    current_id = ws.token.user_session
    ctx = ws.context(request, done=DONE.get(done), error=error, mine=mine,
                     everyone=everyone, current_id=current_id, show_all=_everyone(ws))
    return html("people_sessions.html", ctx, status=status,
                headers={"Cache-Control": "no-store"})


def _signed_out(request: Request) -> Response:
    response = redirect(login_url(None, "session-revoked"))
    clear_session_cookie(request, response)
    return response


@router.post("/ui/sessions/{session_id}/revoke")
async def revoke(request: Request, session_id: Id, ws: Session) -> Response:
    await checked_form(request, ws)
    try:
        await people.revoke_session(ws.svc, ws.principal, session_id)
    except Failures as exc:
        return await render_sessions(request, ws, error=str(exc), status=_status(exc))
    if session_id == ws.token.user_session:
        return _signed_out(request)
    return redirect("/ui/sessions?done=revoked")


# -- the invitation link -----------------------------------------------------------------------


def _invitation_page(request: Request, token: str, invitation: Any, *,
                     error: str | None = None, status: int = 200) -> Response:
    csrf = secrets.token_urlsafe(24)
    response = html("people_invitation.html",
                    {"invitation": invitation, "token": token, "csrf": csrf, "error": error},
                    status=status, headers={"Cache-Control": "no-store",
                                            "Referrer-Policy": "no-referrer"})
    response.set_cookie(INVITE_COOKIE, csrf, max_age=3600, path="/ui/invitation",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.get("/ui/invitation/{token}")
async def invitation_page(request: Request, token: str) -> Response:
    try:
        found = await people.invitation(services(request), token)
    except NotFound as exc:
        return html("people_invitation.html", {"invitation": None, "error": str(exc)},
                    status=404, headers={"Referrer-Policy": "no-referrer"})
    return _invitation_page(request, token, found)


@router.post("/ui/invitation/{token}")
async def accept(request: Request, token: str) -> Response:
    svc = services(request)
    form = await read_form(request)
    try:
        found = await people.invitation(svc, token)
    except NotFound as exc:
        return html("people_invitation.html", {"invitation": None, "error": str(exc)},
                    status=404)
    expected = request.cookies.get(INVITE_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, form.get("csrf", "")):
        return _invitation_page(request, token, found, status=400, error=(
            "The form had expired or did not come from this page. Try again."))
    password = form.get("password", "")
    if password != form.get("password2", ""):
        return _invitation_page(request, token, found, status=400,
                                error="password: the two passwords differ")
    agent = request.headers.get("user-agent", "")[:200]
    try:
        signed = await people.accept(svc, token, form.get("name", ""), password, agent)
    except (InvalidInput, Conflict) as exc:
        return _invitation_page(request, token, found, status=_status(exc), error=str(exc))
    except NotFound as exc:
        return html("people_invitation.html", {"invitation": None, "error": str(exc)},
                    status=404)
    response = redirect("/ui/")
    cookie = session.new_user_token(signed.session.id, signed.secret, time.time())
    set_session_cookie(request, response, session.encode(session.secret(svc), cookie))
    response.delete_cookie(INVITE_COOKIE, path="/ui/invitation")
    return response
