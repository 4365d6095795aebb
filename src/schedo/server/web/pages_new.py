"""The job form: create a job of any type (``/ui/new``) and edit one (``/ui/jobs/{id}/edit``),
with a live preview of the schedule's next fire times (docs/dashboard.md, "Job forms")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from ...limits import MAX_ID
from ..domain import cron
from ..domain.errors import InvalidInput
from ..domain.records import Job
from ..services import channels, definitions, jobs, validation
from . import forms
from .render import html
from .routing import WebRoute, WebSession, checked_form, current, redirect

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Session = Annotated[WebSession, Depends(current)]
Id = Annotated[int, Path(gt=0, le=MAX_ID)]

PRESETS = [
    ("Every minute", "* * * * *"),
    ("Every 5 minutes", "*/5 * * * *"),
    ("Every 15 minutes", "*/15 * * * *"),
    ("Hourly", "0 * * * *"),
    ("Daily at 02:00", "0 2 * * *"),
    ("Weekdays at 09:00", "0 9 * * 1-5"),
    ("Mondays at 09:00", "0 9 * * 1"),
    ("Monthly, on the 1st", "0 0 1 * *"),
]
TITLES = {"sdk": "SDK worker", "push": "Push (webhook)", "command": "Command (agent)",
          "heartbeat": "Heartbeat (pinged)"}


async def _page(
    request: Request,
    ws: WebSession,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    job: Job | None = None,
) -> Response:
    return html(
        "job_form.html",
        ws.context(
            request,
            values=values,
            errors=errors or {},
            job=job,
            presets=PRESETS,
            zones=forms.zones(),
            kinds=forms.KINDS,
            titles=TITLES,
            channels=await channels.list_all(ws.svc, ws.principal),
        ),
        status=400 if errors else 200,
    )


@router.get("/ui/new")
async def new_job_form(request: Request, ws: Session, type: str = "") -> Response:
    values = dict(forms.DEFAULTS)
    if type in forms.KINDS:
        values["type"] = type
    return await _page(request, ws, values)


async def _checked(ws: WebSession, values: dict[str, str], kind: str,
                   base: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The definition and every refused field (parse errors first, then the services')."""
    body, errors = forms.body(values, kind, base)
    if kind == "push" and not values["webhook_url"].strip():
        errors["webhook_url"] = "webhook_url: enter the URL the server should call at each run"
    for field, message in (await definitions.problems(ws.svc, ws.principal, body)).items():
        errors.setdefault(field, message)
    return body, forms.with_hints(errors, values)


async def _define(ws: WebSession, body: dict[str, Any], errors: dict[str, str]) -> Job | None:
    if errors:
        return None
    try:
        return await jobs.define(ws.svc, ws.principal, body)
    except InvalidInput as exc:  # a rule between fields: its message names the field
        errors[definitions.field_of(exc, "form")] = str(exc)
        return None


@router.post("/ui/new")
async def create_job(request: Request, ws: Session) -> Response:
    form = await checked_form(request, ws)
    values = forms.read(form)
    values["name"] = values["name"].strip()
    body, errors = await _checked(ws, values, values["type"], None)
    name = values["name"]
    if "name" not in errors and await jobs.find_by_name(ws.svc, ws.principal, name):
        errors["name"] = (f"name: a job named {name!r} already exists in this environment; "
                          "pick another (or edit that job)")
    job = await _define(ws, body, errors)
    if job is None:
        return await _page(request, ws, values, errors)
    return redirect(f"/ui/jobs/{job.id}?done=created")


@router.get("/ui/jobs/{job_id}/edit")
async def edit_form(request: Request, job_id: Id, ws: Session) -> Response:
    job = await jobs.get(ws.svc, ws.principal, job_id)
    return await _page(request, ws, forms.values_of(job), job=job)


@router.post("/ui/jobs/{job_id}/edit")
async def edit_job(request: Request, job_id: Id, ws: Session) -> Response:
    form = await checked_form(request, ws)
    job = await jobs.get(ws.svc, ws.principal, job_id)
    values = forms.read(form, fixed={"type": job.type.value, "name": job.name})
    body, errors = await _checked(ws, values, job.type.value, definitions.body_of(job))
    if await _define(ws, body, errors) is None:
        return await _page(request, ws, values, errors, job=job)
    return redirect(f"/ui/jobs/{job.id}?done=edited")


@router.get("/ui/new/preview")
async def preview(ws: Session, schedule: str = "", timezone: str = "UTC") -> Response:
    """The plain-English meaning and the next 5 fire times of a schedule (htmx fragment)."""
    ctx: dict[str, Any] = {
        "error": None,
        "description": None,
        "times": [],
        "tz": "UTC",
        "empty": not schedule.strip(),
    }
    if not ctx["empty"]:
        try:
            expr, tz = validation.schedule(schedule.strip()[:300], timezone.strip() or "UTC")
            sched = cron.parse(expr, tz, anchor=ws.now)
            times = []
            for t in sched.iter_after(ws.now):
                times.append(t)
                if len(times) >= 5:
                    break
            ctx.update(description=sched.describe(), times=times, tz=tz)
        except (InvalidInput, cron.CronError) as exc:
            ctx["error"] = forms.zone_hint(str(exc), timezone[:100])
    return html("_preview.html", ctx)
