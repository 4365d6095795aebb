"""Create a push job from a form, with a live preview of the schedule's next fire times."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Request, Response

from ..domain import cron
from ..domain.errors import InvalidInput
from ..domain.text import digits
from ..services import jobs, validation
from .render import html
from .routing import WebRoute, WebSession, checked_form, current, redirect

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Session = Annotated[WebSession, Depends(current)]

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
FIELDS = ("name", "webhook_url", "schedule", "timezone", "timeout_seconds", "max_retries")
DEFAULTS = {
    "name": "",
    "webhook_url": "",
    "schedule": "*/5 * * * *",
    "timezone": "UTC",
    "timeout_seconds": "60",
    "max_retries": "0",
}


@lru_cache(maxsize=1)
def zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z or z == "UTC")


def _page(
    request: Request,
    ws: WebSession,
    values: dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> Response:
    field = error.split(":", 1)[0] if error and ":" in error else None
    return html(
        "new.html",
        ws.context(
            request,
            values=values,
            form_error=error,
            error_field=field,
            presets=PRESETS,
            zones=zones(),
        ),
        status=status,
    )


@router.get("/ui/new")
async def new_job_form(request: Request, ws: Session) -> Response:
    return _page(request, ws, dict(DEFAULTS))


def _whole(value: str, field: str, what: str) -> int:
    text = value.strip()
    if not digits(text) or len(text) > 9:
        raise InvalidInput(f"{field}: enter {what} as a whole number")
    return int(text)


@router.post("/ui/new")
async def create_job(request: Request, ws: Session) -> Response:
    form = await checked_form(request, ws)
    values = {k: form.get(k, "") for k in FIELDS}
    try:
        name = values["name"].strip()
        values["name"] = name
        if not values["webhook_url"].strip():
            raise InvalidInput("webhook_url: enter the URL the server should call at each run")
        body: dict[str, Any] = {
            "name": name,
            "schedule": values["schedule"].strip(),
            "timezone": values["timezone"].strip() or "UTC",
            "webhook_url": values["webhook_url"].strip(),
            "timeout_seconds": _whole(
                values["timeout_seconds"], "timeout_seconds", "the timeout in seconds"
            ),
            "max_retries": _whole(values["max_retries"], "max_retries", "the number of retries"),
        }
        validation.job_name(name)
        if await jobs.find_by_name(ws.svc, ws.principal, name) is not None:
            raise InvalidInput(
                f"name: a job named {name!r} already exists in this environment; pick another"
            )
        job = await jobs.define(ws.svc, ws.principal, body)
    except InvalidInput as exc:
        return _page(request, ws, values, error=str(exc), status=400)
    return redirect(f"/ui/jobs/{job.id}?done=created")


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
            ctx["error"] = str(exc)
    return html("_preview.html", ctx)
