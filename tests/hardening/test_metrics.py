"""``GET /metrics``: every metric is exposed, and the counts move with ticks, claims, reports,
expiries, push deliveries, notification deliveries and HTTP requests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from starlette.routing import Route

from schedo.server.config import Settings
from schedo.server.notify.sender import Notifier
from schedo.server.observability.metrics import UNMATCHED, route_template
from schedo.server.observability.metrics_store import MeteredOutboundClient
from schedo.server.push.dispatcher import Dispatcher
from schedo.server.runtime.clock import FakeClock
from schedo.server.scheduler.reaper import Reaper
from schedo.server.scheduler.ticker import Ticker
from tests.conftest import ADMIN_KEY, START
from tests.hardening.conftest import HApi, running, value

NAMES = [
    "schedo_ticks_created_total",
    "schedo_runs_claimed_total",
    "schedo_runs_ended_total",
    "schedo_run_pickup_lateness_seconds_bucket",
    "schedo_runs_pending",
    "schedo_runs_running",
    "schedo_push_deliveries_total",
    "schedo_push_delivery_duration_seconds_count",
    "schedo_notification_deliveries_total",
    "schedo_notifications_unfanned",
    "schedo_notification_deliveries_pending",
    "schedo_http_requests_total",
    "schedo_http_request_duration_seconds_bucket",
    "schedo_rate_limited_total",
    "schedo_auth_failures_total",
    "schedo_retention_deleted_rows_total",
    "schedo_database_up",
]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"allow_private_webhooks": True}


async def test_metrics_exposes_every_metric_in_text_format(hapi: HApi) -> None:
    r = await hapi.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    names = {key[0] for key in await hapi.scrape()}
    missing = [n for n in NAMES if n not in names]
    assert not missing, missing
    samples = await hapi.scrape()
    assert value(samples, "schedo_database_up") == 1.0


async def test_counts_follow_a_run_from_tick_to_report(hapi: HApi) -> None:
    key = await hapi.env_key()
    job = await hapi.define(name="metered-job", schedule="* * * * *", headers=key)
    before = await hapi.scrape()
    hapi.clock.set(START.replace(minute=1))
    assert await Ticker(hapi.svc).tick_once(hapi.clock.now()) == 1
    s = await hapi.scrape()
    assert value(s, "schedo_ticks_created_total", status="pending") == value(
        before, "schedo_ticks_created_total", status="pending") + 1
    assert value(s, "schedo_runs_pending", type="sdk") == 1
    assert value(s, "schedo_runs_running", type="sdk") == 0

    hapi.clock.advance(2.5)  # picked up 2.5 s after it became due
    r = await hapi.client.get("/jobs/executions?jobs=metered-job&wait=0", headers=key)
    [run] = r.json()
    s = await hapi.scrape()
    assert value(s, "schedo_runs_claimed_total", type="sdk", trigger="schedule") == 1
    assert value(s, "schedo_runs_pending", type="sdk") == 0
    assert value(s, "schedo_runs_running", type="sdk") == 1
    assert value(s, "schedo_run_pickup_lateness_seconds_count", type="sdk") == 1
    assert value(s, "schedo_run_pickup_lateness_seconds_sum", type="sdk") == pytest.approx(2.5)
    assert value(s, "schedo_run_pickup_lateness_seconds_bucket", type="sdk", le="2.5") == 1
    assert value(s, "schedo_run_pickup_lateness_seconds_bucket", type="sdk", le="1.0") == 0

    for _ in range(2):  # a repeated report counts once
        r = await hapi.client.post(f"/jobs/executions/complete/{run['id']}",
                                   json={"success": True}, headers=key)
        assert r.status_code == 200
    s = await hapi.scrape()
    assert value(s, "schedo_runs_ended_total", type="sdk", status="completed") == 1
    assert value(s, "schedo_runs_running", type="sdk") == 0

    # a run nobody picks up expires; the reaper's end counts too
    reaper = Reaper(hapi.svc)  # running all along (a reaper that starts later holds the
    # deadlines that passed before its start: the restart grace)
    await hapi.client.post(f"/jobs/trigger/{job['id']}", headers=key)
    hapi.clock.advance(120)
    assert len(await reaper.reap_once(hapi.clock.now())) == 1
    s = await hapi.scrape()
    assert value(s, "schedo_runs_ended_total", type="sdk", status="expired") == 1


async def test_blocked_ticks_count_as_skipped(hapi: HApi) -> None:
    await hapi.define(name="blocking-job", schedule="* * * * *", blocking=True)
    ticker = Ticker(hapi.svc)
    for minute in (1, 2):
        hapi.clock.set(START.replace(minute=minute))
        await ticker.tick_once(hapi.clock.now())
    s = await hapi.scrape()
    assert value(s, "schedo_ticks_created_total", status="pending") == 1
    assert value(s, "schedo_ticks_created_total", status="skipped") == 1
    assert value(s, "schedo_runs_ended_total", type="sdk", status="skipped") == 1


class _Receiver:
    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                status = 500 if self.path == "/fail" else 200
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.server.shutdown()


async def test_push_deliveries_and_notification_outcomes(hapi: HApi, receiver: _Receiver) -> None:
    await hapi.client.post("/org/emails", json="ops@example.com", headers=hapi.admin)
    ok = await hapi.define(name="push-ok", webhook_url=receiver.url("/ok"))
    bad = await hapi.define(name="push-fail", webhook_url=receiver.url("/fail"))
    for job in (ok, bad):
        await hapi.client.post(f"/jobs/trigger/{job['id']}", headers=hapi.admin)
    client = MeteredOutboundClient(True, metrics=hapi.metrics)
    d = Dispatcher(hapi.svc, client=client)
    try:
        tasks = await d.dispatch_once(hapi.clock.now())
        await asyncio.wait_for(asyncio.gather(*tasks), 20)
    finally:
        await client.aclose()
    s = await hapi.scrape()
    assert value(s, "schedo_push_deliveries_total", outcome="success") == 1
    assert value(s, "schedo_push_deliveries_total", outcome="http_5xx") == 1
    assert value(s, "schedo_push_delivery_duration_seconds_count") == 2
    assert value(s, "schedo_runs_claimed_total", type="push", trigger="manual") == 2
    assert value(s, "schedo_runs_ended_total", type="push", status="completed") == 1
    assert value(s, "schedo_runs_ended_total", type="push", status="failed") == 1
    # the failure turned the job failing: one notification waits in the outbox
    assert value(s, "schedo_notifications_unfanned") == 1

    notifier = Notifier(hapi.svc)
    try:
        await notifier.send_once(hapi.clock.now())
    finally:
        await notifier.aclose()
    s = await hapi.scrape()
    assert value(s, "schedo_notifications_unfanned") == 0
    assert value(s, "schedo_notification_deliveries_pending", channel="email") == 0
    # no SMTP configured: the email delivery is skipped, and counted as such
    assert value(s, "schedo_notification_deliveries_total", channel="email",
                 outcome="skipped") == 1


async def test_http_requests_are_labelled_by_route_template_not_path(hapi: HApi) -> None:
    for job_id in (1, 2, 3, 987654):
        await hapi.client.get(f"/jobs/{job_id}", headers=hapi.admin)
        await hapi.client.get(f"/api/jobs/{job_id}", headers=hapi.admin)
    await hapi.client.get("/no/such/path/123")
    await hapi.client.get("/static/no-such-file-123.css")  # a mount: its prefix + {path}
    await hapi.client.get("/jobs", headers={"x-api-key": "sk_wrong_key_0123456789"})
    s = await hapi.scrape()
    assert value(s, "schedo_http_requests_total", method="GET", route="/jobs/{job_id}",
                 status="404") == 4
    assert value(s, "schedo_http_requests_total", method="GET", route="/api/jobs/{job_id}",
                 status="404") == 4
    assert value(s, "schedo_http_requests_total", method="GET", route=UNMATCHED,
                 status="404") == 1
    assert value(s, "schedo_http_requests_total", method="GET", route="/jobs",
                 status="401") == 1
    assert value(s, "schedo_auth_failures_total") == 1
    assert value(s, "schedo_http_requests_total", method="GET", route="/static/{path}",
                 status="404") == 1
    routes = {dict(labels).get("route") for (name, labels) in s
              if name == "schedo_http_requests_total"}
    assert not any("987654" in (r or "") for r in routes)


def test_route_template_prefers_full_match_and_handles_methods() -> None:
    async def ep(_r: Any) -> None: ...

    routes = [Route("/jobs/list", ep, methods=["GET"]), Route("/jobs/{id}", ep, methods=["GET"])]
    scope = {"type": "http", "path": "/jobs/list", "method": "GET", "root_path": ""}
    assert route_template(routes, scope) == "/jobs/list"
    assert route_template(routes, {**scope, "path": "/jobs/7"}) == "/jobs/{id}"
    assert route_template(routes, {**scope, "path": "/jobs/7", "method": "PUT"}) == "/jobs/{id}"
    assert route_template(routes, {**scope, "path": "/x"}) == UNMATCHED


async def test_metrics_token_guards_the_endpoint(db_url: str) -> None:
    settings = Settings(database_url=db_url, admin_key=ADMIN_KEY, metrics_token="s3cret-token")
    async with running(settings, FakeClock(START)) as h:
        r = await h.client.get("/metrics")
        assert r.status_code == 401
        assert "message" in r.json()
        assert "s3cret" not in r.text
        r = await h.client.get("/metrics", headers={"authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = await h.client.get("/metrics", headers={"authorization": "Bearer s3cret-token"})
        assert r.status_code == 200
        assert "schedo_ticks_created_total" in r.text


async def test_each_app_has_its_own_registry(db_url: str, tmp_path: Any) -> None:
    settings = Settings(database_url=db_url, admin_key=ADMIN_KEY)
    async with running(settings, FakeClock(START)) as a:
        await a.client.get("/no/such/path")
        other = Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}", admin_key=ADMIN_KEY)
        async with running(other, FakeClock(START)) as b:
            sa, sb = await a.scrape(), await b.scrape()
    assert value(sa, "schedo_http_requests_total", method="GET", route=UNMATCHED,
                 status="404") == 1
    assert value(sb, "schedo_http_requests_total", method="GET", route=UNMATCHED,
                 status="404") == 0
