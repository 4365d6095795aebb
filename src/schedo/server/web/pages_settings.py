"""Settings: environments, API keys, notification emails, the environment's alert channels
(issue 19, through ``services/channels.py``) and recent notifications."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from ...limits import MAX_ID
from ..domain.audit import ACTIONS, AuditQuery
from ..domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..domain.model import ChannelKind
from ..services import audit, channels, notifications, tenants
from ..services.keys import shown_prefix
from .render import html
from .routing import (
    WebRoute,
    WebSession,
    checked_form,
    clear_session_cookie,
    current,
    login_url,
    redirect,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Session = Annotated[WebSession, Depends(current)]
Id = Annotated[int, Path(gt=0, le=MAX_ID)]
NOTIFICATIONS = 20
AUDIT_SHOWN = 50  # the environment's latest audit events (issue 22)

DONE = {
    "env-created": "Environment created. Switch to it with the environment menu at the top.",
    "env-deleted": "Environment deleted with its jobs, runs and keys.",
    "key-revoked": "Key revoked: requests with it are refused from now on.",
    "email-added": "Address added: it gets a mail when a job starts failing or recovers.",
    "email-removed": "Address removed.",
    "channel-added": "Channel added: this environment's notices now go to its channels.",
    "channel-deleted": "Channel deleted.",
}


async def _ctx(ws: WebSession, action: str = "") -> dict[str, Any]:
    svc, p = ws.svc, ws.principal
    action = action if action in ACTIONS else ""  # an unknown one: every event
    notes = await notifications.history(svc, p, NOTIFICATIONS)
    env_names = {e.id: e.name for e in ws.environments}
    return {
        "keys": await tenants.list_keys(svc, p),
        "emails": await tenants.emails(svc, p),
        "channels": await channels.list_all(svc, p),
        "notifications": notes,
        "env_names": env_names,
        "shown_prefix": shown_prefix,
        "audit_events": await audit.events(svc, p, AuditQuery(action=action or None,
                                                                limit=AUDIT_SHOWN)),
        "audit_actions": sorted(ACTIONS),
        "audit_action": action,
    }


async def render_settings(
    request: Request,
    ws: WebSession,
    *,
    done: str = "",
    errors: dict[str, str] | None = None,
    new_key: dict[str, str] | None = None,
    status: int = 200,
    action: str = "",
) -> Response:
    ctx = await _ctx(ws, action)
    headers = {"Cache-Control": "no-store"}
    # an error page carries no secret (docs/hardening.md): signing secrets only on a 200
    return html(
        "settings.html",
        ws.context(request, done=DONE.get(done), errors=errors or {}, new_key=new_key,
                   secrets_hidden=status >= 400, **ctx),
        status=status,
        headers=headers,
    )


@router.get("/ui/settings")
async def settings_page(request: Request, ws: Session, done: str = "",
                        action: str = "") -> Response:
    return await render_settings(request, ws, done=done, action=action)


def _status(exc: Exception) -> int:
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    return 400


Failures = (InvalidInput, Forbidden, NotFound, Conflict)


@router.post("/ui/settings/keys")
async def create_key(request: Request, ws: Session) -> Response:
    form = await checked_form(request, ws)
    name = form.get("name", "").strip()
    try:
        record, secret = await tenants.create_key(ws.svc, ws.principal, ws.principal.env_id, name,
                                                  form.get("scope"))
    except Failures as exc:
        return await render_settings(request, ws, errors={"keys": str(exc)}, status=_status(exc))
    # shown once, in this response only (never in a URL or a cookie)
    new_key = {"name": record.name, "secret": secret, "env": ws.environment.name,
               "scope": record.scope}
    return await render_settings(request, ws, new_key=new_key)


@router.post("/ui/settings/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: Id, ws: Session) -> Response:
    await checked_form(request, ws)
    try:
        await tenants.revoke_key(ws.svc, ws.principal, key_id)
    except Failures as exc:
        return await render_settings(request, ws, errors={"keys": str(exc)}, status=_status(exc))
    if key_id == ws.key.id:  # revoked the key of this very session
        response = redirect(login_url(None, "revoked"))
        clear_session_cookie(request, response)
        return response
    return redirect("/ui/settings?done=key-revoked#keys")


@router.post("/ui/settings/environments")
async def create_environment(request: Request, ws: Session) -> Response:
    form = await checked_form(request, ws)
    try:
        await tenants.create_environment(ws.svc, ws.principal, form.get("name", "").strip())
    except Failures as exc:
        return await render_settings(request, ws, errors={"envs": str(exc)}, status=_status(exc))
    return redirect("/ui/settings?done=env-created#environments")


@router.post("/ui/settings/environments/{env_id}/delete")
async def delete_environment(request: Request, env_id: Id, ws: Session) -> Response:
    await checked_form(request, ws)
    try:
        await tenants.delete_environment(ws.svc, ws.principal, env_id)
    except Failures as exc:
        return await render_settings(request, ws, errors={"envs": str(exc)}, status=_status(exc))
    return redirect("/ui/settings?done=env-deleted#environments")


@router.post("/ui/settings/emails")
async def add_email(request: Request, ws: Session) -> Response:
    form = await checked_form(request, ws)
    try:
        await tenants.add_email(ws.svc, ws.principal, form.get("email", ""))
    except Failures as exc:
        return await render_settings(request, ws, errors={"emails": str(exc)}, status=_status(exc))
    return redirect("/ui/settings?done=email-added#emails")


@router.post("/ui/settings/emails/remove")
async def remove_email(request: Request, ws: Session) -> Response:
    form = await checked_form(request, ws)
    try:
        await tenants.remove_email(ws.svc, ws.principal, form.get("email", ""))
    except Failures as exc:
        return await render_settings(request, ws, errors={"emails": str(exc)}, status=_status(exc))
    return redirect("/ui/settings?done=email-removed#emails")


def _channel_body(form: dict[str, str]) -> dict[str, Any]:
    """The API body of the add form: ``destination`` is the URL, or for an email channel
    the addresses separated by commas, semicolons or blanks."""
    kind, dest = form.get("kind", ""), form.get("destination", "").strip()
    body: dict[str, Any] = {"name": form.get("name", "").strip(), "kind": kind}
    if kind == ChannelKind.EMAIL:
        body["addresses"] = [a for a in dest.replace(",", " ").replace(";", " ").split() if a]
    else:
        body["url"] = dest or None
    return body


@router.post("/ui/settings/channels")
async def add_channel(request: Request, ws: Session) -> Response:
    form = await checked_form(request, ws)
    try:
        await channels.create(ws.svc, ws.principal, _channel_body(dict(form)))
    except Failures as exc:
        return await render_settings(request, ws, errors={"channels": str(exc)},
                                     status=_status(exc))
    return redirect("/ui/settings?done=channel-added#channels")


@router.post("/ui/settings/channels/{channel_id}/delete")
async def delete_channel(request: Request, channel_id: Id, ws: Session) -> Response:
    await checked_form(request, ws)
    try:
        await channels.delete(ws.svc, ws.principal, channel_id)
    except Failures as exc:
        return await render_settings(request, ws, errors={"channels": str(exc)},
                                     status=_status(exc))
    return redirect("/ui/settings?done=channel-deleted#channels")
