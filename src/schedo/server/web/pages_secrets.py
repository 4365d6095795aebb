"""Settings, Secrets (issue 22): each environment's webhook signing secret, revealed on
request (a POST: the value is in that response only, never in a URL, a cookie or a cached
page) with a copy button, rotated with an overlap (0 to 7 days); and the admin key, rotated
with a confirm step and shown once.

Admin keys only: an environment key gets 403, another organisation's environment 404 (as a
missing one). Rotating the admin key revokes every admin key, the one of this session
included, and signs this browser in again with the new key (decision: the person who rotated
keeps working; every other session and client of the old key is refused from the next
request on). A request from htmx for a reveal (the new-job form's push section) gets the
value's fragment alone."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from ...limits import MAX_ID
from ..domain.errors import Conflict, Forbidden, InvalidInput, NotFound, SchedoError
from ..services import secrets
from . import session
from .render import html
from .routing import WebRoute, WebSession, checked_form, current, redirect, set_session_cookie

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Session = Annotated[WebSession, Depends(current)]
Id = Annotated[int, Path(gt=0, le=MAX_ID)]
NO_STORE = {"Cache-Control": "no-store"}
Failures = (InvalidInput, Forbidden, NotFound, Conflict)
STATUS: dict[type[SchedoError], int] = {InvalidInput: 400, Forbidden: 403, NotFound: 404,
                                        Conflict: 409}
# the overlap choices of the rotate form, in seconds (the API takes any 0 to 7 days)
OVERLAPS = [(0, "none: the old secret stops at once (it leaked)"), (3600, "1 hour"),
            (secrets.OVERLAP_DEFAULT, "24 hours"), (3 * 86400, "3 days"),
            (secrets.OVERLAP_MAX, "7 days")]


async def _page(request: Request, ws: Session, *, shown: dict[str, Any] | None = None,
                error: str | None = None, status: int = 200) -> Response:
    states = await secrets.states(ws.svc, ws.principal) if ws.principal.admin else []
    return html("secrets.html", ws.context(request, states=states, shown=shown, failure=error,
                                           overlaps=OVERLAPS,
                                           default_overlap=secrets.OVERLAP_DEFAULT),
                status=status, headers=NO_STORE)


def _status(exc: SchedoError) -> int:
    return STATUS.get(type(exc), 400)


@router.get("/ui/settings/secrets")
async def secrets_page(request: Request, ws: Session) -> Response:
    if not ws.principal.admin:
        raise Forbidden("the secrets are for admin keys only: sign in with the admin key")
    return await _page(request, ws)


@router.get("/ui/settings/secrets/{env_id}/reveal")
@router.get("/ui/settings/secrets/{env_id}/rotate")
@router.get("/ui/settings/admin-key/rotate")
async def back_to_secrets(ws: Session, env_id: str = "") -> Response:
    """A reveal or a rotation answers at its POST address; opening that address again (the
    address bar, a new tab, the history) leads to the page, changing and showing nothing."""
    return redirect("/ui/settings/secrets")


@router.post("/ui/settings/secrets/{env_id}/reveal")
async def reveal(request: Request, env_id: Id, ws: Session) -> Response:
    await checked_form(request, ws)
    state = await secrets.state(ws.svc, ws.principal, env_id)  # errors: an HTML error page
    shown = {"kind": "signing", "state": state, "fresh": False}
    if request.headers.get("hx-request"):
        return html("_secret_value.html", {"shown": shown}, headers=NO_STORE)
    return await _page(request, ws, shown=shown)


def _overlap(form: dict[str, str]) -> int:
    text = form.get("overlap_seconds", "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 7:
        raise InvalidInput(f"overlap_seconds: must be a whole number of seconds from 0 to "
                           f"{secrets.OVERLAP_MAX}")
    return int(text)


FINGERPRINT = re.compile(r"[0-9a-f]{16}")


def _expected(form: dict[str, str]) -> str | None:
    """The fingerprint of the secret the form was made for (None: a form without it)."""
    if "expected" not in form:
        return None
    text = form["expected"].strip()
    if not FINGERPRINT.fullmatch(text):
        raise InvalidInput("expected: not a secret's fingerprint; reload the page and try again")
    return text


@router.post("/ui/settings/secrets/{env_id}/rotate")
async def rotate(request: Request, env_id: Id, ws: Session) -> Response:
    form = await checked_form(request, ws)
    try:
        state = await secrets.rotate(ws.svc, ws.principal, env_id, _overlap(form),
                                     _expected(form))
    except Failures as exc:
        return await _page(request, ws, error=str(exc), status=_status(exc))
    return await _page(request, ws, shown={"kind": "signing", "state": state, "fresh": True})


@router.post("/ui/settings/admin-key/rotate")
async def rotate_admin(request: Request, ws: Session) -> Response:
    form = await checked_form(request, ws)
    if form.get("confirm") != "rotate":
        return await _page(request, ws, status=400,
                           error="confirm: tick the box to say the old admin key may stop")
    try:
        record, key = await secrets.rotate_admin_key(ws.svc, ws.principal)
    except Failures as exc:
        return await _page(request, ws, error=str(exc), status=_status(exc))
    # this browser goes on with the new key: a new session cookie, in this response
    token = session.new_token(record, ws.principal.env_id, time.time())
    fresh = replace(ws, key=record, token=token,
                    principal=replace(ws.principal, key_id=record.id, key_name=record.name))
    page = await _page(request, fresh, shown={"kind": "admin", "key": key, "fresh": True})
    set_session_cookie(request, page, session.encode(ws.secret, token))
    return page
