"""Prometheus metrics (``GET /metrics``) on a per-app registry.

Design: counts are *observed at the seams* instead of being pushed from every use case.

- ``storage/metered.MeteredStore`` (a ``SqlStore`` subclass) watches the storage calls every
  run goes through: ``tick`` (ticks created), ``claim`` / ``claim_any`` (runs picked up and
  their lateness), ``complete_many`` / ``expire_overdue`` (runs ended), the notification
  ``mark_*`` calls (delivery outcomes) and the retention ``prune_*`` calls. Each counts what
  the call returned, i.e. rows this process actually wrote: with several processes on one
  PostgreSQL database, ``sum()`` the counters across instances.
- ``metrics_store.MeteredOutboundClient`` wraps the push dispatcher's HTTP client (push
  deliveries by outcome, with their duration).
- ``HttpMetrics`` (raw ASGI middleware) counts requests by method, *route template* and
  status; the template comes from matching the app's routes, never the raw path, so a
  client cannot grow the label set.
- Gauges (runs pending/running, outbox depth) are read from the database at scrape time with
  one query (``services.ops.live_counts``); every process reports the same global value, so
  aggregate them with ``max()``.

The registry belongs to the app (``app.state.metrics``), not to prometheus_client's global
one, so tests can build many apps in one process.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable, Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.model import ChannelKind, JobType, RunStatus, Trigger
from ..domain.records import Run
from ..services.context import Services
from ..services.ops import live_counts

log = logging.getLogger("schedo.metrics")

JOB_TYPES = tuple(t.value for t in JobType)
ENDED = tuple(s.value for s in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.EXPIRED,
                                RunStatus.SKIPPED, RunStatus.CANCELLED))
TRIGGERS = tuple(t.value for t in (Trigger.SCHEDULE, Trigger.MANUAL, Trigger.RETRY))
PUSH_OUTCOMES = ("success", "accepted", "http_3xx", "http_4xx", "http_5xx", "error")
DELIVERY_OUTCOMES = ("sent", "retry", "failed", "skipped")
CHANNELS = (ChannelKind.EMAIL.value, ChannelKind.WEBHOOK.value)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED = "<unmatched>"
LATENESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
PUSH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    """Every Schedo metric, on its own registry. The ``*`` methods are the hooks."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token or None
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.ticks = Counter(
            "schedo_ticks_created", "Executions created by the ticker, by status "
            "(pending: to run; skipped: blocked or missed ticks).", ["status"], registry=r)
        self.claimed = Counter(
            "schedo_runs_claimed", "Runs handed to a worker, agent or the push dispatcher.",
            ["type", "trigger"], registry=r)
        self.ended = Counter(
            "schedo_runs_ended", "Runs that reached a final status.", ["type", "status"],
            registry=r)
        self.lateness = Histogram(
            "schedo_run_pickup_lateness_seconds",
            "Seconds between a run becoming due and being picked up.", ["type"],
            buckets=LATENESS_BUCKETS, registry=r)
        self.pending = Gauge(
            "schedo_runs_pending", "Executions waiting to be picked up (read at scrape time).",
            ["type"], registry=r)
        self.running = Gauge(
            "schedo_runs_running", "Executions picked up and not ended (read at scrape time).",
            ["type"], registry=r)
        self.push = Counter(
            "schedo_push_deliveries", "Webhook POSTs of push jobs, by outcome.", ["outcome"],
            registry=r)
        self.push_seconds = Histogram(
            "schedo_push_delivery_duration_seconds", "Duration of webhook POSTs of push jobs.",
            buckets=PUSH_BUCKETS, registry=r)
        self.deliveries = Counter(
            "schedo_notification_deliveries", "Notification delivery attempts, by outcome.",
            ["channel", "outcome"], registry=r)
        self.unfanned = Gauge(
            "schedo_notifications_unfanned",
            "Notifications not yet turned into deliveries (outbox depth).", registry=r)
        self.deliveries_pending = Gauge(
            "schedo_notification_deliveries_pending",
            "Deliveries waiting to be sent or retried (outbox depth).", ["channel"], registry=r)
        self.http = Counter(
            "schedo_http_requests", "HTTP requests by method, route template and status.",
            ["method", "route", "status"], registry=r)
        self.http_seconds = Histogram(
            "schedo_http_request_duration_seconds", "HTTP request duration by route template.",
            ["method", "route"], buckets=HTTP_BUCKETS, registry=r)
        self.limited = Counter(
            "schedo_rate_limited", "Requests refused with 429, by reason "
            "(key: per-key rate; auth_failures: too many failed authentications).",
            ["reason"], registry=r)
        self.auth_failed = Counter(
            "schedo_auth_failures", "Requests refused with 401 for a wrong or revoked key.",
            registry=r)
        self.pruned = Counter(
            "schedo_retention_deleted_rows", "Rows deleted by retention.", ["table"], registry=r)
        self.db_up = Gauge(
            "schedo_database_up", "1 if the last scrape could read the database, else 0.",
            registry=r)
        self._initialise()

    def _initialise(self) -> None:
        """Create the known label sets at zero, so every series exists before its first event
        (rate() and alerts need a starting point)."""
        for s in (RunStatus.PENDING.value, RunStatus.SKIPPED.value):
            self.ticks.labels(s)
        for t in JOB_TYPES:
            self.lateness.labels(t)
            self.pending.labels(t)
            self.running.labels(t)
            for tr in TRIGGERS:
                self.claimed.labels(t, tr)
            for st in ENDED:
                self.ended.labels(t, st)
        for o in PUSH_OUTCOMES:
            self.push.labels(o)
        for ch in CHANNELS:
            self.deliveries_pending.labels(ch)
            for o in DELIVERY_OUTCOMES:
                self.deliveries.labels(ch, o)
        for reason in ("key", "auth_failures"):
            self.limited.labels(reason)
        for table in ("executions", "notifications", "audit_events"):
            self.pruned.labels(table)

    # -- hooks ------------------------------------------------------------------------------
    def ticks_created(self, created: Iterable[Run]) -> None:
        for e in created:
            self.ticks.labels(e.status.value).inc()
            if e.status is RunStatus.SKIPPED:
                self.ended.labels(e.job_type.value, "skipped").inc()

    def runs_claimed(self, claimed: Iterable[Run]) -> None:
        by: dict[tuple[str, str], list[float | None]] = {}  # a label lookup per label, not run
        for e in claimed:
            by.setdefault((e.job_type.value, e.trigger.value), []).append(None if e.pick_up_time
                is None else max(0.0, (e.pick_up_time - e.due_at).total_seconds()))
        for (t, tr), lates in by.items():
            self.claimed.labels(t, tr).inc(len(lates))
            observe = self.lateness.labels(t).observe
            for late in lates:
                if late is not None:
                    observe(late)

    def runs_ended(self, ended: Iterable[Run]) -> None:
        for e in ended:
            if e.status.terminal:
                self.ended.labels(e.job_type.value, e.status.value).inc()

    def push_delivered(self, status: int | None, duration_ms: int) -> None:
        if status is None:
            outcome = "error"
        elif status == 202:
            outcome = "accepted"
        elif 200 <= status < 300:
            outcome = "success"
        elif 300 <= status < 600:
            outcome = f"http_{status // 100}xx"
        else:
            outcome = "error"
        self.push.labels(outcome).inc()
        self.push_seconds.observe(max(0, duration_ms) / 1000)

    def notification_delivery(self, channel: str, outcome: str) -> None:
        self.deliveries.labels(channel if channel in CHANNELS else "other", outcome).inc()

    def rate_limited(self, reason: str) -> None:
        self.limited.labels(reason).inc()

    def auth_failure(self) -> None:
        self.auth_failed.inc()

    def rows_pruned(self, table: str, n: int) -> None:
        if n:
            self.pruned.labels(table).inc(n)

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        m = method if method in METHODS else "OTHER"
        self.http.labels(m, route, str(status)).inc()
        self.http_seconds.labels(m, route).observe(seconds)

    # -- scrape -------------------------------------------------------------------------------
    async def refresh(self, svc: Services) -> None:
        """Read the gauges from the database (one query)."""
        try:
            live = await live_counts(svc)
        except Exception as exc:  # keep serving the counters when the database is away
            log.warning("metrics.db_unavailable error=%s", type(exc).__name__)
            self.db_up.set(0)
            return
        self.db_up.set(1)
        for t in {*JOB_TYPES, *(k[0] for k in live.runs)}:
            self.pending.labels(t).set(live.runs.get((t, "pending"), 0))
            self.running.labels(t).set(live.runs.get((t, "running"), 0))
        self.unfanned.set(live.notifications_unfanned)
        for ch in {*CHANNELS, *live.deliveries_pending}:
            self.deliveries_pending.labels(ch).set(live.deliveries_pending.get(ch, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)


# -- the route --------------------------------------------------------------------------------

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        401: {
            "description": "SCHEDO_METRICS_TOKEN is set and the bearer token is wrong",
            "content": {"application/json": {"schema": {
                "type": "object", "required": ["message"],
                "properties": {"message": {"type": "string"}},
            }}},
        },
    },
)
async def metrics_endpoint(request: Request) -> Response:
    """Prometheus metrics (text format). With ``SCHEDO_METRICS_TOKEN`` set, send
    ``Authorization: Bearer <token>``."""
    m: Metrics = request.app.state.metrics
    if m.token is not None:
        given = request.headers.get("authorization", "")
        want = f"Bearer {m.token}"
        if not hmac.compare_digest(given.encode(), want.encode()):
            return JSONResponse(
                {"message": "authorization: a valid metrics bearer token is needed"},
                status_code=401, headers={"www-authenticate": "Bearer"},
            )
    svc = getattr(request.app.state, "services", None)
    if svc is not None:
        await m.refresh(svc)
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)


# -- HTTP middleware --------------------------------------------------------------------------

ROUTE_BOX = "schedo.metrics.route"


class _RouteBox:
    """Carries the matched route's template from the innermost layer out to ``HttpMetrics``
    (inner middleware may copy the scope, but a copy still holds this same object)."""

    __slots__ = ("template",)

    def __init__(self) -> None:
        self.template: str | None = None


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The path template of the Starlette route (or mount) that matches ``scope``: the first
    full match, else the first partial one (wrong method), else ``UNMATCHED``. Used for
    routes the router did not record in the scope (plain Starlette routes, mounts)."""
    partial: BaseRoute | None = None
    for route in routes:
        match, _child = route.matches(scope)
        if match is Match.FULL:
            return _path_of(route)
        if match is Match.PARTIAL and partial is None:
            partial = route
    return _path_of(partial) if partial is not None else UNMATCHED


def _path_of(route: BaseRoute) -> str:
    path = str(getattr(route, "path", "") or "")
    if isinstance(route, Mount):
        return path + "/{path}"
    return path or UNMATCHED


def _template_from_scope(scope: Scope) -> str | None:
    """The template of the route the router picked (``scope["route"]``), with the prefix of
    the router it was included under (``/api``): the route object is shared by both
    inclusions, so the prefix is read off the request path, where the route's own pattern
    matches a suffix of it."""
    route = scope.get("route")
    if route is None:
        return None
    if isinstance(route, Mount):
        return _path_of(route)
    template = str(getattr(route, "path", "") or "")
    regex = getattr(route, "path_regex", None)
    path = str(scope.get("path", ""))
    if not template or regex is None:
        return None
    if regex.match(path):
        return template
    start = path.find("/", 1)
    while start > 0:  # the shortest literal prefix whose remainder the route matches
        if regex.match(path[start:]):
            return path[:start] + template
        start = path.find("/", start + 1)
    return template


class RouteCapture:
    """Innermost middleware: after the router ran, note its route in the request's box."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        box = scope.get(ROUTE_BOX)
        if not isinstance(box, _RouteBox):
            await self.app(scope, receive, send)
            return

        async def capture(msg: Message) -> None:
            if msg["type"] == "http.response.start" and box.template is None:
                box.template = _template_from_scope(scope)
            await send(msg)

        try:
            await self.app(scope, receive, capture)
        finally:
            if box.template is None:
                box.template = _template_from_scope(scope)


class HttpMetrics:
    """Counts every HTTP request by method, route template and status, with its duration.

    Add it last (outermost), so that it also sees the 413s of ``BodyLimit`` and the 429s of
    the limits; ``RouteCapture`` (innermost) reports the route the router chose. Requests
    refused before routing (a 413 on ``content-length``) and unknown paths are
    ``<unmatched>``."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        box = _RouteBox()
        # what matching needs, as it is now (the router rewrites root_path for mounts)
        probe: Scope = {"type": "http", "path": scope.get("path", ""),
                        "root_path": scope.get("root_path", ""),
                        "method": scope.get("method", "")}
        scope = {**scope, ROUTE_BOX: box}

        async def observe(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = int(msg["status"])
            await send(msg)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = box.template
            if route is None:
                try:
                    route = route_template(self.routes, probe)
                except Exception:  # never let accounting break a response
                    route = UNMATCHED
            self.metrics.http_request(
                str(scope.get("method", "")), route, status, time.perf_counter() - started
            )


def install(app: FastAPI, token: str | None = None) -> Metrics:
    """Create the app's Metrics (``app.state.metrics``), add ``GET /metrics`` and the HTTP
    middleware. Call it after every other ``add_middleware`` so the middleware is outermost."""
    metrics = Metrics(token)
    app.state.metrics = metrics
    app.include_router(router)
    app.add_middleware(HttpMetrics, metrics=metrics, routes=app.router.routes)
    app.user_middleware.append(Middleware(RouteCapture))  # innermost: sees the router's scope
    return metrics
