"""Overview, jobs table, job page, run page, and the job actions (trigger, pause, ...)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from ...limits import MAX_ID
from ..api.jobs import parse_instant
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..domain.model import JobType
from ..domain.records import Job, Run
from ..services import audit, chains, dashboard, jobs, live, notifications, runs
from . import queries, trends
from . import strips as strips_html
from .pages_auth import switch_cookie
from .paging import Paging, page_number
from .render import html
from .routing import WebRoute, WebSession, checked_form, current, redirect

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Session = Annotated[WebSession, Depends(current)]
Id = Annotated[int, Path(gt=0, le=MAX_ID)]
PAGE = 20
CHART_RUNS = 60
LIVE_FAST = "every 2s"
LIVE_SLOW = "every 5s"

DONE = {
    "created": "Job created. Its runs appear below as they happen.",
    "triggered": "Run started: it appears in the history below.",
    "paused": "Job paused: it creates no runs until you resume it.",
    "resumed": "Job resumed: the next run is computed from now.",
    "muted": "Notifications muted for this job.",
    "unmuted": "Notifications are on again for this job.",
    "webhook": "Webhook URL saved.",
    "edited": "Settings saved.",
    "deleted": "Job deleted with its history.",
}


# -- overview ------------------------------------------------------------------------------------


async def _overview_ctx(ws: WebSession) -> dict[str, Any]:
    data = await dashboard.overview(ws.svc, ws.principal, ws.now)
    return {"ov": data, "retries": data.retries, "now": ws.now, "describe": queries.describe,
            "live": LIVE_SLOW, "grant": ws.principal.grant}


@router.get("/ui/")
async def overview(request: Request, ws: Session) -> Response:
    return html("overview.html", ws.context(request, **await _overview_ctx(ws)))


@router.get("/ui/live/overview")
async def overview_live(ws: Session) -> Response:
    return html("_overview.html", await _overview_ctx(ws))


# -- jobs table ----------------------------------------------------------------------------------


def _clip(value: str, allowed: dict[str, str]) -> str:
    return value if value in allowed else ""


async def _jobs_ctx(
    ws: WebSession, q: str, status: str, kind: str, tag: str = "", sort: str = "",
    direction: str = "", page: str = "",
) -> dict[str, Any]:
    status, kind = _clip(status, queries.STATUS_FILTERS), _clip(kind, queries.TYPE_FILTERS)
    key = trends.sorting(sort, direction, {})
    # filters, sort and page in SQL: only the page's rows are read (and their strips,
    # connections and waiting retries), whatever the number of jobs
    table = await dashboard.jobs_table(
        ws.svc, ws.principal, q=q[:200], status=status, kind=kind, tag=tag, sort=key.key,
        descending=key.descending, page_of=lambda matched: page_number(page, matched))
    tag, tags = table.tag, table.tags
    order = trends.sorting(sort, direction,
                           {"q": q[:200], "status": status, "type": kind, "tag": tag})
    paging = Paging(table.number, table.matched, order)
    shown = table.jobs
    conns = await jobs.connections(ws.svc, ws.principal, shown) if shown else {}
    strips = await dashboard.run_strips(ws.svc, ws.principal, shown) if shown else {}
    return {
        "jobs": shown,
        "matched": table.matched,
        "paging": paging,
        "strips": strips,
        "sparks": {job_id: trends.sparkline(marks) for job_id, marks in strips.items()},
        "strip_runs": dashboard.STRIP_RUNS,
        "run_strip": strips_html.run_strip,
        "retries": table.retries,
        "total": table.total,
        "conns": conns,
        "describe": queries.describe,
        "q": q[:200],
        "status": status,
        "kind": kind,
        "tag": tag,
        "tags": tags,
        "order": order,
        "sort_labels": trends.SORT_LABELS,
        "now": ws.now,
        "live": LIVE_SLOW,
        "status_filters": queries.STATUS_FILTERS,
        "type_filters": queries.TYPE_FILTERS,
        "grant": ws.principal.grant,
    }


@router.get("/ui/jobs")
async def jobs_page(
    request: Request,
    ws: Session,
    q: str = "",
    status: str = "",
    type: str = "",
    tag: str = "",
    sort: str = "",
    dir: str = "",
    page: str = "",
    done: str = "",
) -> Response:
    ctx = await _jobs_ctx(ws, q, status, type, tag, sort, dir, page)
    return html("jobs.html", ws.context(request, done=DONE.get(done), **ctx))


@router.get("/ui/live/jobs")
async def jobs_live(
    request: Request, ws: Session, q: str = "", status: str = "", type: str = "", tag: str = "",
    sort: str = "", dir: str = "", page: str = "",
) -> Response:
    ctx = await _jobs_ctx(ws, q, status, type, tag, sort, dir, page)
    out = html("_jobs_table.html", ctx)
    if request.headers.get("hx-request"):
        # the filter form and the refresh answer here: the address bar follows the filters,
        # so a reload, Back or a shared link shows what the table shows
        out.headers["HX-Replace-Url"] = ctx["paging"].href(ctx["paging"].number)
    return out


# -- job page ------------------------------------------------------------------------------------


async def _history(ws: WebSession, job: Job, before: int | None) -> dict[str, Any]:
    if before is None:  # the newest runs: the page and the chart from one read
        recent = await runs.history(ws.svc, ws.principal, job.id, None,
                                    max(PAGE + 1, CHART_RUNS))
        page = recent[: PAGE + 1]
        recent = recent[:CHART_RUNS]
    else:
        page = await runs.history(ws.svc, ws.principal, job.id, before, PAGE + 1)
        recent = await runs.history(ws.svc, ws.principal, job.id, None, CHART_RUNS)
    more = len(page) > PAGE
    page = page[:PAGE]
    live = before is None
    return {
        "runs": page,
        "before": before,
        "older": page[-1].id if more and page else None,
        "chart": queries.duration_chart(recent),
        "live": LIVE_FAST if live else None,
    }


async def _job_ctx(ws: WebSession, job_id: int, before: int | None) -> dict[str, Any]:
    job = await jobs.get(ws.svc, ws.principal, job_id)
    conns = await jobs.connections(ws.svc, ws.principal, [job])
    return {
        "job": job,
        "conns": conns.get(job.name, 0),
        "retries": await dashboard.waiting_retries(ws.svc, ws.principal, [job]),
        "description": queries.describe(job),
        "resolved_cron": queries.resolved_cron(job),
        "next_times": queries.next_fire_times(job, ws.now),
        "now": ws.now,
        "grant": ws.principal.grant,
        **await _history(ws, job, before),
    }


ALERTS_SHOWN = 10  # the job page lists its latest alerts with their deliveries
AUDIT_SHOWN = 10  # and its latest audit events (issue 22)


def _cursor(before: int | None) -> int | None:
    return before if before is not None and 0 < before <= MAX_ID else None


async def render_job(
    request: Request,
    ws: WebSession,
    job_id: int,
    *,
    before: int | None = None,
    done: str | None = None,
    error: str | None = None,
    status: int = 200,
    webhook_value: str | None = None,
    explained: Any = None,
    explain_value: str = "",
) -> Response:
    ctx = await _job_ctx(ws, job_id, _cursor(before))
    job: Job = ctx["job"]
    alerts = await notifications.history(ws.svc, ws.principal, ALERTS_SHOWN, job.id)
    return html(
        "job.html",
        ws.context(
            request,
            alerts=alerts,
            audit_events=await audit.job_events(ws.svc, ws.principal, job.id, AUDIT_SHOWN),
            audit_title="Changes", audit_job=True,
            chain=await chains.job_chain(ws.svc, ws.principal, job.id),
            days=trends.day_cells(job.id, await dashboard.run_days(ws.svc, ws.principal, job,
                                                                   ws.now)),
            done=DONE.get(done or ""),
            error=error,
            webhook_value=webhook_value if webhook_value is not None else (job.webhook_url or ""),
            explained=explained,
            explain_value=explain_value,
            **ctx,
        ),
        status=status,
    )


@router.get("/ui/jobs/{job_id}")
async def job_page(
    request: Request,
    job_id: Id,
    ws: Session,
    before: Annotated[int | None, Query()] = None,
    done: str = "",
) -> Response:
    return await render_job(request, ws, job_id, before=before, done=done)


@router.get("/ui/jobs/{job_id}/explain")
async def job_explain(request: Request, job_id: Id, ws: Session, at: str = "") -> Response:
    """The job page with "why did or didn't it run at ``at``" answered (GET /jobs/{id}/explain)."""
    value = at.strip()[:80]
    try:
        instant = parse_instant(value)
    except InvalidInput as exc:
        return await render_job(request, ws, job_id, error=str(exc), status=400,
                                explain_value=value)
    found = await jobs.explain(ws.svc, ws.principal, job_id, instant)
    return await render_job(request, ws, job_id, explained=found, explain_value=value)


@router.get("/ui/jobs/{job_id}/days/{day}")
async def job_day(request: Request, job_id: Id, day: str, ws: Session) -> Response:
    """The job's runs scheduled on one UTC day (the day strip's links)."""
    when = trends.parse_day(day)
    job = await jobs.get(ws.svc, ws.principal, job_id)
    found, more = await dashboard.day_runs(ws.svc, ws.principal, job, when)
    return html("job_day.html", ws.context(
        request, job=job, day=when, runs=found, more=more, limit=dashboard.DAY_RUNS, now=ws.now,
        prev_day=trends.shift_day(when, -1), next_day=trends.shift_day(when, 1)))


@router.get("/ui/jobs/{job_id}/live")
async def job_live(
    job_id: Id, ws: Session, before: Annotated[int | None, Query()] = None
) -> Response:
    ctx = await _job_ctx(ws, job_id, _cursor(before))
    return html("_job_live.html", {**ctx, "oob": True})


ACTIONS = ("trigger", "pause", "resume", "mute", "unmute", "webhook", "delete")


@router.post("/ui/jobs/{job_id}/{action}")
async def job_action(request: Request, job_id: Id, action: str, ws: Session) -> Response:
    form = await checked_form(request, ws)
    svc, p = ws.svc, ws.principal
    if action not in ACTIONS:
        raise NotFound("there is no such action")
    webhook_value: str | None = None
    try:
        if action == "trigger":
            await jobs.trigger(svc, p, job_id)
            done = "triggered"
        elif action == "pause":
            await jobs.pause(svc, p, job_id)
            done = "paused"
        elif action == "resume":
            await jobs.resume(svc, p, job_id)
            done = "resumed"
        elif action in ("mute", "unmute"):
            await jobs.mute(svc, p, job_id, action == "mute")
            done = action + "d"
        elif action == "webhook":
            webhook_value = form.get("webhook_url", "").strip()
            job = await jobs.get(svc, p, job_id)
            if job.type is not JobType.PUSH:
                raise InvalidInput("webhook_url: only push jobs have a webhook URL")
            if not webhook_value:
                raise InvalidInput("webhook_url: enter the URL the server should call")
            await jobs.set_webhook(svc, p, job_id, webhook_value)
            done = "webhook"
        else:  # delete
            await jobs.delete(svc, p, job_id)
            return redirect("/ui/jobs?done=deleted")
    except (InvalidInput, Conflict) as exc:
        return await render_job(
            request,
            ws,
            job_id,
            error=str(exc),
            status=409 if isinstance(exc, Conflict) else 400,
            webhook_value=webhook_value,
        )
    return redirect(f"/ui/jobs/{job_id}?done={done}")


# -- run page ------------------------------------------------------------------------------------


async def _find_run(ws: WebSession, job_id: int, exec_id: int) -> tuple[WebSession, Run]:
    """The run in the session's environment; for an admin key also in the organisation's other
    environments (links in notifications do not know which one the browser is in)."""
    try:
        run = await runs.get(ws.svc, ws.principal, exec_id)
    except NotFound:
        if not ws.principal.admin:
            raise
        for env in ws.environments:
            if env.id == ws.principal.env_id:
                continue
            there = replace(ws.principal, env_id=env.id)
            try:
                run = await runs.get(ws.svc, there, exec_id)
            except NotFound:
                continue
            moved = replace(ws, principal=there, environment=env)
            if run.job_id == job_id:
                return moved, run
        raise
    if run.job_id != job_id:
        raise NotFound(f"run {exec_id} of job {job_id} not found")
    return ws, run


async def _run_ctx(ws: WebSession, job_id: int, exec_id: int) -> tuple[WebSession, dict[str, Any]]:
    ws, run = await _find_run(ws, job_id, exec_id)
    job = await jobs.get(ws.svc, ws.principal, job_id)
    refresh = LIVE_FAST if not run.status.terminal else None
    _, lines = await live.read(ws.svc, ws.principal, exec_id, 0, live.READ_MAX)
    return ws, {"job": job, "run": run, "now": ws.now, "live": refresh, "log_lines": lines}


@router.get("/ui/jobs/{job_id}/runs/{exec_id}")
async def run_page(request: Request, job_id: Id, exec_id: Id, ws: Session) -> Response:
    moved, ctx = await _run_ctx(ws, job_id, exec_id)
    run_chain = await chains.run_chain(moved.svc, moved.principal, exec_id)
    response = html("run.html", moved.context(request, run_chain=run_chain, **ctx))
    if moved.principal.env_id != ws.principal.env_id:
        switch_cookie(request, response, ws, moved.principal.env_id)
    return response


@router.get("/ui/jobs/{job_id}/runs/{exec_id}/live")
async def run_live(job_id: Id, exec_id: Id, ws: Session) -> Response:
    _ws, ctx = await _run_ctx(ws, job_id, exec_id)
    return html("_run_live.html", ctx)


@router.post("/ui/jobs/{job_id}/runs/{exec_id}/cancel")
async def run_cancel(request: Request, job_id: Id, exec_id: Id, ws: Session) -> Response:
    await checked_form(request, ws)
    ws, run = await _find_run(ws, job_id, exec_id)
    try:
        await live.cancel(ws.svc, ws.principal, run.id, "from the dashboard")
    except Conflict:
        pass  # it ended meanwhile: the page shows how
    return redirect(f"/ui/jobs/{job_id}/runs/{exec_id}")
