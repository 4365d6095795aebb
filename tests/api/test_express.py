"""The express lane (api/express.py) answers exactly as FastAPI does.

Two servers on two copies of one database, one with the lane and one without
(``SCHEDO_EXPRESS_LANE=0``), get the same requests in the same order: good ones, which the
lane answers itself, and bad ones of every kind, which it must leave to FastAPI. Every answer
(status, body, the headers a client reads), the runs and jobs stored at the end and the HTTP
metrics must be the same; the lane's own count says which requests it answered.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Cookie, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from schedo.server.api.express import ExpressLane, LaneError, lane
from schedo.server.config import Settings
from schedo.server.runtime.clock import FakeClock
from tests.conftest import ADMIN_KEY, PG_URL, START, Api, _drop_pg_database, _fresh_pg_database
from tests.support.inprocess import in_process

MISSING = 987654
COMPARED_HEADERS = ("content-type", "content-length", "x-should-retry", "retry-after")


@dataclass
class Req:
    method: str
    path: str
    role: str = "admin"
    query: str = ""
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    lane: bool = True  # answered by the lane (else left to FastAPI)


def get(path: str, query: str = "", **kw: Any) -> Req:
    return Req("GET", path, query=query, **kw)


def post(path: str, **kw: Any) -> Req:
    return Req("POST", path, **kw)


DEFINE = "/jobs/definition"
EVERY_MINUTE = "* * * * *"
# ids are the same on both servers: alpha 1, beta 2, the foreign org's job 3, gamma 4; runs
# 1-4 of alpha, 5 of beta (triggered below)
CORPUS: list[Req] = [
    post(DEFINE, json={"name": "alpha", "schedule": "*/5 * * * *"}),
    post("/api" + DEFINE, json={"name": "beta", "schedule": "0 2 * * *", "timeout_seconds": 30,
                                "metadata": {"a": [1, 2], "b": None}}),
    post(DEFINE, role="foreign", json={"name": "other", "schedule": EVERY_MINUTE}),
    post(DEFINE, json={"name": "alpha", "schedule": "*/10 * * * *", "timeout_seconds": 60}),
    post(DEFINE, body=b'{"name": "gamma", "schedule": "* * * * *"}',
         headers={"content-type": "text/plain"}),
    post(DEFINE, body='{"name": "\u00e9t\u00e9", "schedule": "0 3 * * *"}'.encode()),
    post(DEFINE, body=b'{"name": "x", "schedule": "* * * * *"}',
         headers={"content-type": "application/json; charset=utf-8"}),
    # refused by the service (the lane answers with the app's handler)
    post(DEFINE, json={"name": "bad-cron", "schedule": "not a cron"}),
    post(DEFINE, json={"name": "n", "schedule": EVERY_MINUTE}),  # too short a name
    post(DEFINE, role="reader", json={"name": "read-only", "schedule": EVERY_MINUTE}),
    post(DEFINE, role="none", json={"name": "nobody", "schedule": EVERY_MINUTE}),
    post(DEFINE, role="revoked", json={"name": "revoked", "schedule": EVERY_MINUTE}),
    post(DEFINE, role="wrong", json={"name": "wrongkey", "schedule": EVERY_MINUTE}),
    # refused by validation: FastAPI answers
    post(DEFINE, json={"name": "typo", "schedule": EVERY_MINUTE, "max_retires": 3}, lane=False),
    post(DEFINE, json={"name": "strict", "schedule": EVERY_MINUTE, "timeout_seconds": "30"},
         lane=False),
    post(DEFINE, json={"schedule": EVERY_MINUTE}, lane=False),
    post(DEFINE, body=b'{"name": "x",', lane=False),
    post(DEFINE, body=b"", lane=False),
    post(DEFINE, body=b"[1, 2]", lane=False),
    post(DEFINE, body=b"null", lane=False),
    post(DEFINE, body=b'{"name": "lone", "schedule": "* * * * *", "metadata": {"k": "\\ud800"}}',
         lane=False),
    post(DEFINE, body=b"\xff\xfe", lane=False),
    post(DEFINE, role="none", body=b"{", lane=False),  # malformed before unauthenticated
    # the request gate (api/gate.py) makes every API body JSON, whatever its content-type
    post(DEFINE, json={"name": "vnd", "schedule": EVERY_MINUTE},
         headers={"content-type": "application/vnd.api+json"}),
    # a job
    get("/jobs/1"),
    get("/api/jobs/2"),
    get("/jobs/1", role="reader"),
    get("/jobs/1", role="worker"),
    get("/jobs/3"),  # the foreign organisation's
    get("/jobs/3", role="foreign"),
    get(f"/jobs/{MISSING}"),
    get("/jobs/1", role="none"),
    get("/jobs/1", role="revoked"),
    get("/jobs/1", headers={"x-api-environment": "nowhere"}),
    get("/jobs/1", headers={"x-schedo-via": "cli"}),
    get("/jobs/0", lane=False),
    get("/jobs/01", lane=False),
    get("/jobs/+1", lane=False),
    get("/jobs/1.0", lane=False),
    get("/jobs/2147483648", lane=False),
    get("/jobs/99999999999999999999", lane=False),
    get("/jobs/abc", lane=False),
    get("/jobs/list", lane=False),
    get("/jobs/1/", lane=False),
    # the job list
    get("/jobs"),
    get("/api/jobs"),
    get("/jobs", "foo=bar"),
    get("/jobs", role="reader"),
    get("/jobs", role="worker"),
    get("/jobs", role="foreign"),
    get("/jobs", role="none"),
    get("/jobs", role="revoked"),
    get("/jobs", headers={"x-api-environment": "nowhere"}),
    get("/jobs/", lane=False),
    Req("POST", "/jobs", lane=False),
    Req("HEAD", "/jobs/1", lane=False),
    Req("DELETE", "/jobs/4", lane=False),  # gamma: a route beside the lane's
    get("/jobs/4"),  # gone: 404
    # runs to claim (the trigger is not a lane route)
    *[post("/jobs/trigger/1", lane=False) for _ in range(4)],
    post("/jobs/trigger/2", lane=False),
    # pulls
    get("/jobs/executions", "jobs=alpha&wait=0&limit=1", role="worker"),
    get("/jobs/executions", "jobs=alpha&wait=0&limit=1", role="worker",
        headers={"x-schedo-worker-id": "w-1"}),
    get("/api/jobs/executions", "jobs=alpha,beta&wait=0.0&limit=1", role="worker"),
    get("/jobs/executions", "jobs=alpha&wait=0&limit=1", role="reader"),
    get("/jobs/executions", "wait=0", role="worker"),  # no codes: 400 from the service
    get("/jobs/executions", "jobs=alpha&wait=0&type=bogus", role="worker"),
    get("/jobs/executions", "jobs=alpha&wait=0&limit=0", role="worker", lane=False),
    get("/jobs/executions", "jobs=alpha&wait=-1", role="worker", lane=False),
    get("/jobs/executions", "jobs=alpha&wait=abc", role="worker", lane=False),
    get("/jobs/executions", "jobs=alpha&wait=0&limit=1&limit=2", role="worker", lane=False),
    get("/jobs/executions", "jobs=alpha&wait=0&limit=", role="worker", lane=False),
    get("/jobs/executions", "jobs=alpha&wait=0&limit=1", role="worker",
        headers={"x-schedo-worker-id": "w" * 201}, lane=False),
    get("/jobs/executions", "jobs=alpha&wait=0", role="none", lane=True),
    get("/jobs/executions", "jobs=alpha,beta&wait=0&limit=10", role="worker"),
    # run lists
    get("/jobs/executions/1"),
    get("/api/jobs/executions/1", "limit=2"),
    get("/jobs/executions/1", "cursor=3&limit=1"),
    get("/jobs/executions/1", "cursor=2147483648"),
    get("/jobs/executions/1", "foo=bar"),
    get("/jobs/executions/3"),
    get("/jobs/executions/1", role="worker"),
    get("/jobs/executions/1", "cursor=0", lane=False),
    get("/jobs/executions/1", "cursor=abc", lane=False),
    get("/jobs/executions/1", "limit=0", lane=False),
    get("/jobs/executions/1", "limit=100000", lane=False),
    get("/jobs/executions/1", "limit=01", lane=True),  # pydantic reads 1, like FastAPI
    get("/jobs/executions/1", "limit=1&limit=2", lane=False),
    get("/jobs/executions/x1", lane=False),
    # completions: runs 1-4 (alpha) and 5 (beta) were claimed above
    post("/jobs/executions/complete/1", role="worker", json={"success": True, "output": "ok"}),
    post("/jobs/executions/complete/1", role="worker", json={"success": True}),  # again: 409
    post("/api/jobs/executions/complete/2", role="worker",
         json={"success": False, "error": "boom", "exit_code": 3, "output": "\ud800 kept"}),
    post("/jobs/executions/complete/3", role="reader", json={"success": True}),
    post(f"/jobs/executions/complete/{MISSING}", role="worker", json={"success": True}),
    post("/jobs/executions/complete/3", role="foreign", json={"success": True}),
    post("/jobs/executions/complete/3", role="worker", json={"success": "yes"}, lane=False),
    post("/jobs/executions/complete/3", role="worker", json={"sucess": True}, lane=False),
    post("/jobs/executions/complete/0", role="worker", json={"success": True}, lane=False),
    post("/jobs/executions/complete/3", role="worker", body=b"{", lane=False),
    post("/jobs/executions/complete", role="worker", json={"results": [
        {"id": 3, "success": True}, {"id": MISSING, "success": True}, {"id": 0, "success": True},
        {"id": 1, "success": False}]}),
    post("/jobs/executions/complete", role="worker", json={"results": []}),
    post("/jobs/executions/complete", role="worker", json={"results": "x"}, lane=False),
    post("/jobs/executions/complete", role="worker", json={"results": [{"id": "4"}]},
         lane=False),
    post("/api/jobs/executions/complete", role="worker", json={"results": [
        {"id": 4, "success": True, "start_server_time_utc": 1_796_000_000_000}]}),
    post("/jobs/executions/complete/5", role="worker", json={"success": True}),
    # after it all
    get("/jobs/executions/1"),
    get("/jobs/executions/2"),
    get("/jobs/1"),
]


@contextlib.asynccontextmanager
async def _database(kind: str, template_file: Path, copy_to: Path,
                    pg_template: str | None) -> AsyncIterator[str]:
    if kind == "sqlite":
        shutil.copyfile(template_file, copy_to)
        yield f"sqlite:///{copy_to}"
        return
    assert PG_URL is not None
    url = await _fresh_pg_database(PG_URL, pg_template)
    try:
        yield url
    finally:
        await _drop_pg_database(url)


@contextlib.asynccontextmanager
async def _server(url: str, express: bool, **settings: Any) -> AsyncIterator[tuple[Api, Any]]:
    clock = FakeClock(START)
    s = Settings(database_url=url, admin_key=ADMIN_KEY, express_lane=express, **settings)
    async with in_process(s, clock) as (app, client):
        yield Api(client=client, svc=app.state.services, clock=clock,
                  admin={"x-api-key": ADMIN_KEY}), app


async def _roles(api: Api) -> dict[str, dict[str, str]]:
    async def key(scope: str) -> tuple[int, dict[str, str]]:
        r = await api.client.post("/apikeys", headers=api.admin,
                                  json={"environment_id": 1, "name": scope, "scope": scope})
        assert r.status_code == 200, r.text
        return r.json()["id"], {"x-api-key": r.json()["key"]}

    _, worker = await key("worker")
    _, reader = await key("read")
    revoked_id, revoked = await key("full")
    r = await api.client.delete(f"/apikeys/revoke/{revoked_id}", headers=api.admin)
    assert r.status_code == 200
    return {"admin": api.admin, "worker": worker, "reader": reader, "revoked": revoked,
            "none": {}, "wrong": {"x-api-key": "sk_live_" + "0" * 40},
            "foreign": await api.foreign_org()}


def _served(app: Any) -> int:
    lane_: ExpressLane | None = getattr(app.state, "express_lane", None)
    return sum(lane_.served.values()) if lane_ is not None else 0


async def _send(api: Api, roles: dict[str, dict[str, str]], req: Req) -> tuple[Any, ...]:
    headers = {**roles[req.role], **req.headers}
    content: bytes | None = req.body
    if req.json is not None:
        content = json.dumps(req.json).encode()
        headers.setdefault("content-type", "application/json")
    url = req.path + (f"?{req.query}" if req.query else "")
    r = await api.client.request(req.method, url, content=content, headers=headers)
    kept = tuple((h, r.headers.get(h)) for h in COMPARED_HEADERS)
    return r.status_code, r.content, kept


_HTTP_LINE = re.compile(r'^schedo_http_requests_total\{.*$', re.M)


async def _http_counts(api: Api) -> list[str]:
    r = await api.client.get("/metrics")
    assert r.status_code == 200
    return sorted(_HTTP_LINE.findall(r.text))


async def _stored(api: Api) -> list[Any]:
    """Every run of every job and the audit log, read through FastAPI (the lane is not under
    test here: the reads avoid its routes)."""
    out: list[Any] = []
    for job_id in (1, 2, 4, 5, 6):
        r = await api.client.get(f"/jobs/executions/{job_id}", params={"limit": "01"},
                                 headers=api.admin)
        out.append((job_id, r.status_code, r.json()))
    r = await api.client.get("/jobs/list", headers=api.admin)
    out.append(r.json())
    r = await api.client.get("/audit", headers=api.admin)
    out.append((r.status_code, r.json()))
    return out


@pytest.fixture(params=["sqlite", "postgresql"] if PG_URL else ["sqlite"])
async def pair(request: pytest.FixtureRequest, tmp_path: Path,
               _db_templates: Any) -> AsyncIterator[tuple[Any, Any]]:
    kind = request.param
    template = _db_templates.sqlite_file() if kind == "sqlite" else None
    pg = await _db_templates.postgresql_name() if kind == "postgresql" else None
    async with contextlib.AsyncExitStack() as stack:
        urls = [await stack.enter_async_context(
            _database(kind, template or Path(), tmp_path / f"{name}.db", pg))
            for name in ("lane", "fastapi")]
        yield urls[0], urls[1]


async def test_the_lane_answers_every_request_as_fastapi_does(pair: tuple[str, str]) -> None:
    async with _server(pair[0], True) as (lane_api, lane_app), \
            _server(pair[1], False) as (plain_api, plain_app):
        lane_roles, plain_roles = await _roles(lane_api), await _roles(plain_api)
        assert _served(lane_app) == 0 and getattr(plain_app.state, "express_lane", None) is None
        for i, req in enumerate(CORPUS):
            before = _served(lane_app)
            got = await _send(lane_api, lane_roles, req)
            want = await _send(plain_api, plain_roles, req)
            where = f"request {i}: {req.method} {req.path}?{req.query} as {req.role}"
            assert got == want, where
            assert got[0] != 500, where
            assert _served(lane_app) - before == (1 if req.lane else 0), where
        assert await _stored(lane_api) == await _stored(plain_api)
        assert await _http_counts(lane_api) == await _http_counts(plain_api)
    # the corpus reaches every route of the lane, each at / and at /api
    served = lane_app.state.express_lane.served
    assert set(served) == {r.route.path for r in lane_app.state.express_lane.table.all()}


@pytest.mark.parametrize("settings", [
    # the key's rate limit: 429 with Retry-After once the burst is spent
    {"rate_limit_per_second": 0.001, "rate_limit_burst": 3},
    # failed authentications per address: blocked after 3, whichever lane saw them
    {"auth_failure_limit": 3},
])
async def test_the_limits_count_each_request_once(pair: tuple[str, str],
                                                  settings: dict[str, Any]) -> None:
    async with _server(pair[0], True, **settings) as (lane_api, _), \
            _server(pair[1], False, **settings) as (plain_api, _):
        results = []
        for api in (lane_api, plain_api):
            await api.define(name="limited")
            bad = {"x-api-key": "sk_live_" + "1" * 40}
            statuses = []
            for i in range(6):
                # alternately a request the lane answers and one it leaves to FastAPI
                path = "/jobs/1" if i % 2 == 0 else "/jobs/01"
                for headers in (api.admin, bad):
                    r = await api.client.get(path, headers=headers)
                    statuses.append((r.status_code, r.headers.get("retry-after") is not None))
            results.append(statuses)
        assert results[0] == results[1]
        assert any(status == 429 for status, _ in results[0])


async def test_what_the_lane_skips_is_left_to_fastapi(db_url: str) -> None:
    """Dependency overrides and handlers by status code are FastAPI's: with either, the
    answer is what FastAPI makes of it."""
    from schedo.server.api import deps

    async def teapot(request: Request) -> Any:
        raise HTTPException(418, "overridden")

    async def by_status(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"message": "the app's own 429"}, status_code=429)

    async with _server(db_url, True, rate_limit_per_second=0.001, rate_limit_burst=2) as (
            api, app):
        app.add_exception_handler(429, by_status)
        job = await api.define(name="skipped")  # the burst's first request
        app.dependency_overrides[deps.services_dependency] = teapot
        r = await api.client.get(f"/jobs/{job['id']}", headers=api.admin)
        assert (r.status_code, r.json()) == (418, {"message": "overridden"})
        assert _served(app) == 1  # FastAPI's: the override ran (before the key was checked)
        app.dependency_overrides.clear()
        r = await api.client.get(f"/jobs/{job['id']}", headers=api.admin)  # the second
        assert r.status_code == 200
        r = await api.client.get(f"/jobs/{job['id']}", headers=api.admin)
        assert (r.status_code, r.json()) == (429, {"message": "the app's own 429"})
        assert _served(app) == 3  # the lane's, the 429 by the app's handler of 429s


def test_the_lane_is_off_with_opentelemetry(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    """FastAPI makes its spans in its router and dependency solver: with OpenTelemetry
    configured, every request goes through them."""
    from schedo.server.app import create_app

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'otel.db'}", admin_key=ADMIN_KEY)
    assert any(m.cls is ExpressLane for m in create_app(settings, run_loops=False).user_middleware)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "schedo-test")
    app = create_app(settings, run_loops=False)
    assert not any(m.cls is ExpressLane for m in app.user_middleware)


def test_a_route_the_lane_cannot_serve_exactly_is_refused_at_build() -> None:
    router = APIRouter()

    async def with_response(request: Request, response: Response) -> int:
        return 1

    async def of_request(request: Request) -> int:
        return 1

    @router.get("/dict")
    async def answers_a_dict() -> dict[str, int]:
        return {}

    @router.get("/cookie")
    async def reads_a_cookie(session: str | None = Cookie(default=None)) -> Response:
        return Response()

    @router.get("/iterable")
    async def reads_an_iterable(x: Iterable[int] = Query(default=())) -> Response:
        return Response()

    @router.get("/factory")
    async def a_made_default(x: str = Query(default_factory=str)) -> Response:
        return Response()

    @router.get("/dependency")
    async def a_dependency_of_the_response(x: int = Depends(with_response)) -> Response:
        return Response()

    @router.get("/twice")
    async def one_dependency_twice(a: int = Depends(of_request),
                                   b: int = Depends(of_request)) -> Response:
        return Response()

    for route in router.routes:
        with pytest.raises(LaneError):
            lane(route)  # type: ignore[arg-type]
