"""The worker runtime in-process against a real server: definitions, concurrency, outcomes,
report retries and graceful stops. (tests/e2e/test_worker.py runs it as real processes.)"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

import schedo
from schedo import BadRequest, DefinitionError, Execution, JobContext, Schedo
from schedo.sdk.backoff import RECONNECT_CAP, Backoff, reconnect_backoff
from schedo.sdk.runner import failure, format_output
from schedo.sdk.worker import DEFINE_CONCURRENCY, Worker
from tests.support.server import ADMIN_KEY, ServerProcess

NEVER = "0 0 1 1 *"


async def wait_for(cond: Callable[[], Awaitable[Any]], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = await cond()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {seconds}s waiting for {what} (last: {last!r})")


async def finished(c: schedo.AsyncClient, job_id: int, count: int) -> list[Execution]:
    runs = [e async for e in c.iter_executions(job_id)]
    done = [e for e in runs if e.status in ("completed", "failed")]
    return done if len(done) >= count else []


async def job_id(c: schedo.AsyncClient, name: str) -> int:
    return next(j.id for j in await c.list_jobs() if j.name == name)


# -- definitions ------------------------------------------------------------------------------


def test_decorator_refuses_bad_definitions() -> None:
    app = Schedo("k")

    def h(ctx: JobContext) -> None: ...

    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "abc"}, "at least|between"),
        ({"name": "a,b,c,d"}, "commas"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 90_000}, "timeout"),
        ({"max_retries": 101}, "max_retries"),
        ({"catch_up": "sometimes"}, "catch_up"),
        ({"metadata": {"x": object()}}, "metadata"),
        ({"metadata": {"x": float("nan")}}, "metadata"),
        ({"metadata": [1, 2]}, "metadata: must be a dict"),
        ({"metadata": {f"k{i}": i for i in range(1001)}}, "1001 keys"),
        ({"schedule": "  "}, "schedule"),
        ({"schedule": "0 24 * * *"}, "schedule: hour field: 24"),
        ({"schedule": "@every 0s"}, "schedule: @every"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone"),
    ]
    for override, match in cases:
        args: dict[str, Any] = {"name": "valid-name", "schedule": NEVER, **override}
        name, schedule = args.pop("name"), args.pop("schedule")
        with pytest.raises(DefinitionError, match=match):
            app.job(name, schedule, **args)(h)
    app.job("valid-name", NEVER)(h)
    with pytest.raises(DefinitionError, match="twice"):
        app.job("valid-name", NEVER)(h)
    with pytest.raises(ValueError, match="concurrency"):
        Schedo("k", concurrency=0)
    assert list(app.jobs) == ["valid-name"] and app.jobs["valid-name"].handler is h


def test_every_bad_field_of_a_definition_is_reported_at_once() -> None:
    app = Schedo("k")
    with pytest.raises(DefinitionError) as err:
        app.job(
            "ab", "0 24 * * *", timezone="Mars/Olympus", timeout=0, max_retries=101,
            catch_up="sometimes", metadata={"deep": _nested(40)},
        )(lambda ctx: None)  # fmt: skip
    assert isinstance(err.value, ValueError) and err.value.job == "ab"
    assert [p.split(":")[0] for p in err.value.problems] == [
        "name", "schedule", "timezone", "timeout", "max_retries", "catch_up", "metadata"
    ]
    assert str(err.value) == "job 'ab': " + "; ".join(err.value.problems)
    assert "nested 41 levels deep, at most 31" in err.value.problems[-1]
    assert not app.jobs


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def test_a_definition_the_sdk_accepts_is_accepted_by_the_server(
    client: schedo.Client, name: str
) -> None:
    """The local rules are the server's: limits right at the edge pass both."""
    app = Schedo("k")
    meta = {"deep": _nested(30), **{f"k{i}": i for i in range(970)}}  # 31 deep, 1000 keys
    app.job(name, "*/5 * * * * *", timezone="Europe/Berlin", timeout=86_400, max_retries=100,
            catch_up="all", metadata=meta)(lambda ctx: None)  # fmt: skip
    d = app.jobs[name]
    job = client.define_job(
        d.name, d.schedule, metadata=d.metadata, timeout_seconds=d.timeout_seconds,
        max_retries=d.max_retries, timezone=d.timezone, catch_up=d.catch_up,
    )  # fmt: skip
    assert job.name == name and job.timezone == "Europe/Berlin"


class SabotageTransport(httpx.AsyncBaseTransport):
    """The real transport, but the definition of job ``target`` goes out with a schedule
    the server refuses. Records when each definition was sent and answered."""

    def __init__(self, target: str) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.target = target
        self.sent: list[str] = []
        self.answers: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or request.url.path != "/jobs/definition":
            return await self.inner.handle_async_request(request)
        body = json.loads(await request.aread())
        name = body["name"]
        self.sent.append(name)
        if name == self.target:
            body["schedule"] = "0 24 * * *"
            headers = {k: v for k, v in request.headers.items() if k != "content-length"}
            request = httpx.Request("POST", request.url, headers=headers, json=body)
        response = await self.inner.handle_async_request(request)
        self.answers[name] = response.status_code
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_refused_definition_stops_the_definitions_not_yet_sent(
    server: ServerProcess, name: str
) -> None:
    app = Schedo(ADMIN_KEY, server.url)
    names = [f"{name}-{i:02d}" for i in range(40)]
    for n in names:
        app.job(n, NEVER)(lambda ctx: None)
    transport = SabotageTransport(names[2])
    client = schedo.AsyncClient(ADMIN_KEY, server.url, transport=transport)
    worker = Worker(app.jobs, client, poll_wait=2)
    with pytest.raises(BadRequest) as err:
        await asyncio.wait_for(worker.run(), 20)
    await client.aclose()
    assert err.value.message.startswith(f"job '{names[2]}': schedule: hour field")
    # sent in the app's order, at most DEFINE_CONCURRENCY at a time; after the refusal,
    # nothing more: only those already in flight
    assert sorted(transport.sent) == names[: len(transport.sent)]
    assert names[2] in transport.sent and len(transport.sent) <= 3 + DEFINE_CONCURRENCY
    # every definition sent was answered (none cancelled half-way): what is defined is known
    assert sorted(transport.answers) == sorted(transport.sent)
    accepted = {n for n, status in transport.answers.items() if status == 200}
    assert accepted == set(transport.sent) - {names[2]}
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        on_server = {j.name for j in await c.list_jobs() if j.name.startswith(name + "-")}
    assert on_server == accepted


# -- outcomes ---------------------------------------------------------------------------------


def test_output_formatting() -> None:
    assert format_output(None) is None
    assert format_output("plain text") == "plain text"
    assert json.loads(format_output({"rows": 3, "ok": True}) or "") == {"rows": 3, "ok": True}
    assert format_output([1, "a"]) == '[1, "a"]'
    assert format_output(12) == "12"
    assert format_output({"name": "café"}) == '{"name": "café"}'  # not "caf\\u00e9"
    assert format_output([os.fsdecode(b"\xff"), "\ud83d\ude00"]) == '["\ufffd", "\U0001f600"]'
    assert format_output(os.fsdecode(b"a\xffb")) == "a\ufffdb"
    from datetime import UTC, datetime

    assert format_output({"at": datetime(2026, 1, 1, tzinfo=UTC)}) == (
        '{"at": "2026-01-01 00:00:00+00:00"}'
    )
    big = format_output("x" * 200_000) or ""
    assert len(big.encode()) <= 64 * 1024 and big.endswith("[truncated by the worker]")


def test_failure_has_type_message_and_traceback_tail() -> None:
    def deep(n: int) -> None:
        if n == 0:
            raise KeyError("missing thing")
        deep(n - 1)

    try:
        deep(200)
    except KeyError as exc:
        out = failure(exc)
    assert out.success is False and out.error == "KeyError: 'missing thing'"
    assert out.output is not None and len(out.output.encode()) <= 4 * 1024 + 8
    assert out.output.rstrip().endswith("KeyError: 'missing thing'")
    assert failure(RuntimeError()).error == "RuntimeError"


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    b = Backoff()
    delays = [b.next() for _ in range(12)]
    assert 0.4 <= delays[0] <= 0.6 and 0.8 <= delays[1] <= 1.2 and 1.6 <= delays[2] <= 2.4
    assert all(d <= 30.0 for d in delays) and delays[-1] >= 24.0
    b.reset()
    assert b.next() <= 0.6


def test_reconnect_backoff_is_capped_at_five_seconds_and_stays_jittered() -> None:
    b = reconnect_backoff()
    delays = [b.next() for _ in range(200)]
    assert 3.2 <= delays[3] <= 4.8
    at_cap = delays[4:]
    assert all(4.0 <= d <= RECONNECT_CAP == 5.0 for d in at_cap)
    assert len({round(d, 3) for d in at_cap}) > 50  # spread out, not all at the cap


# -- running ----------------------------------------------------------------------------------


def test_job_codes_are_split_into_pulls_that_fit_a_request_line() -> None:
    from urllib.parse import quote

    from schedo.sdk.worker import MAX_CODES_CHARS, MAX_CODES_URL, code_groups

    few = {f"job-{i:03d}": None for i in range(50)}
    assert code_groups(few) == [sorted(few)]
    for many in (
        {f"{'x' * 180}-{i:04d}": None for i in range(400)},  # ~74,000 characters in all
        {f"{'日本' * 40}-{i:04d}": None for i in range(400)},  # 9x longer once encoded
    ):
        groups = code_groups(many)
        assert len(groups) > 1
        assert sorted(c for g in groups for c in g) == sorted(many)
        for g in groups:
            assert len(",".join(g)) <= MAX_CODES_CHARS
            assert len(quote(",".join(g), safe="")) <= MAX_CODES_URL


async def test_a_worker_whose_codes_do_not_fit_one_pull_runs_them_all(
    server: ServerProcess, name: str
) -> None:
    """400 jobs with 199-character names: ~80,000 characters of codes, more than the HTTP
    server takes in one request line (it refuses them with a 400), so the worker pulls with
    several loops."""
    app = Schedo(ADMIN_KEY, server.url, concurrency=4, poll_wait=2)
    codes = [f"{name}-{i:03d}-".ljust(199, "n") for i in range(400)]
    active = 0
    peak = 0

    async def handler() -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return "ok"

    for code in codes:
        app.job(code, NEVER)(handler)
    runner = asyncio.create_task(app.run_async())
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        picked = [codes[0], codes[199], codes[-1]]
        ids = [await wait_for(lambda code=code: _maybe_id(c, code), 30, "definitions")
               for code in picked]
        for jid in ids:
            for _ in range(4):
                await c.trigger_job(jid)
        done = [await wait_for(lambda jid=jid: finished(c, jid, 4), 30, "runs") for jid in ids]
    app.stop()
    assert await asyncio.wait_for(runner, 20) == 0
    assert all(e.status == "completed" for runs in done for e in runs)
    assert peak <= 4


async def test_a_concurrency_above_the_pull_limit_still_pulls(
    server: ServerProcess, name: str
) -> None:
    """concurrency 150 > the API's limit of 100 runs per pull: pulls ask for at most 100."""
    app = Schedo(ADMIN_KEY, server.url, concurrency=150, poll_wait=2)

    @app.job(name, NEVER)
    def handler() -> str:
        return "ok"

    runner = asyncio.create_task(app.run_async())
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        jid = await wait_for(lambda: _maybe_id(c, name), 10, "the definition")
        await c.trigger_job(jid)
        [run] = await wait_for(lambda: finished(c, jid, 1), 20, "the run")
    app.stop()
    assert await asyncio.wait_for(runner, 20) == 0
    assert run.status == "completed" and run.output == "ok"


async def test_runs_handlers_within_the_concurrency_limit(server: ServerProcess, name: str) -> None:
    app = Schedo(ADMIN_KEY, server.url, concurrency=2, poll_wait=2)
    active = 0
    peak = 0
    seen: list[JobContext] = []

    @app.job(name, NEVER, metadata={"team": "data"}, timeout=30)
    async def handler(ctx: JobContext) -> dict[str, Any]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        seen.append(ctx)
        await asyncio.sleep(0.4)
        active -= 1
        return {"n": ctx.execution_id}

    @app.job(name + "-noctx", NEVER)
    def no_context() -> str:
        return "no ctx needed"

    runner = asyncio.create_task(app.run_async())
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        jid = await wait_for(lambda: _maybe_id(c, name + "-noctx"), 10, "definitions")
        main_id = await job_id(c, name)
        ids = [(await c.trigger_job(main_id)).id for _ in range(6)]
        await c.trigger_job(jid)
        done = await wait_for(lambda: finished(c, main_id, 6), 30, "six runs")
        other = await wait_for(lambda: finished(c, jid, 1), 10, "the no-ctx run")
    app.stop()
    assert await asyncio.wait_for(runner, 20) == 0
    assert peak == 2
    assert sorted(e.id for e in done) == sorted(ids)
    assert all(e.status == "completed" and json.loads(e.output or "") == {"n": e.id} for e in done)
    assert other[0].output == "no ctx needed"
    ctx = seen[0]
    assert ctx.job_code == name and ctx.attempt == 1 and ctx.metadata == {"team": "data"}
    assert ctx.scheduled_for.tzinfo is not None and ctx.trigger == "manual"


async def _maybe_id(c: schedo.AsyncClient, name: str) -> int | None:
    return next((j.id for j in await c.list_jobs() if j.name == name), None)


async def test_shutdown_grace_expiry_reports_the_run_failed(
    server: ServerProcess, name: str
) -> None:
    app = Schedo(ADMIN_KEY, server.url, shutdown_grace=0.5, poll_wait=2)
    started = asyncio.Event()

    @app.job(name, NEVER, timeout=60)
    async def forever(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(60)

    runner = asyncio.create_task(app.run_async())
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        jid = await wait_for(lambda: _maybe_id(c, name), 10, "definition")
        await c.trigger_job(jid)
        await asyncio.wait_for(started.wait(), 10)
        app.stop()
        assert await asyncio.wait_for(runner, 20) == 0
        [run] = await c.list_executions(jid)
    assert run.status == "failed" and run.error == (
        "WorkerShutdown: the worker stopped before the handler finished "
        "(shutdown grace 0.5s expired)"
    )


class FlakyTransport(httpx.AsyncBaseTransport):
    """The real transport, but the first ``failures`` completion reports never arrive."""

    def __init__(self, failures: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.failures = failures
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/executions/complete" in request.url.path and self.refused < self.failures:
            self.refused += 1
            raise httpx.ConnectError("connection refused (test)", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_reports_are_retried_until_the_server_answers(
    server: ServerProcess, name: str
) -> None:
    app = Schedo(ADMIN_KEY, server.url)

    @app.job(name, NEVER)
    def ok(ctx: JobContext) -> str:
        return "delivered"

    transport = FlakyTransport(failures=3)
    client = schedo.AsyncClient(ADMIN_KEY, server.url, transport=transport)
    worker = Worker(app.jobs, client, concurrency=2, poll_wait=2)
    runner = asyncio.create_task(worker.run())
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        jid = await wait_for(lambda: _maybe_id(c, name), 10, "definition")
        await c.trigger_job(jid)
        [run] = await wait_for(lambda: finished(c, jid, 1), 20, "the delivered report")
    worker.request_stop("test")
    assert await asyncio.wait_for(runner, 20) == 0
    await client.aclose()
    assert transport.refused == 3 and run.output == "delivered"


class RefuseFirstReport(httpx.AsyncBaseTransport):
    """The real transport, but the first report goes out in a shape the server refuses
    (422: ``output`` is not a string), as a report the worker cannot send as it is."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.refused: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/executions/complete" in request.url.path and not self.refused:
            body = json.loads(await request.aread())
            for item in body.get("results", [body]):
                item["output"] = 12345
            headers = {k: v for k, v in request.headers.items() if k != "content-length"}
            request = httpx.Request("POST", request.url, headers=headers, json=body)
            response = await self.inner.handle_async_request(request)
            self.refused.append(response.status_code)
            return response
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_report_the_server_refuses_as_malformed_is_sent_again_simplified(
    server: ServerProcess, name: str
) -> None:
    """Not dropped (the run would expire and run again): sent again with its text escaped
    to ASCII."""
    app = Schedo(ADMIN_KEY, server.url)

    @app.job(name, NEVER)
    def ok(ctx: JobContext) -> str:
        return "café ✓"

    transport = RefuseFirstReport()
    client = schedo.AsyncClient(ADMIN_KEY, server.url, transport=transport)
    worker = Worker(app.jobs, client, poll_wait=2)
    runner = asyncio.create_task(worker.run())
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        jid = await wait_for(lambda: _maybe_id(c, name), 10, "definition")
        await c.trigger_job(jid)
        [run] = await wait_for(lambda: finished(c, jid, 1), 20, "the report")
    worker.request_stop("test")
    assert await asyncio.wait_for(runner, 20) == 0
    await client.aclose()
    assert transport.refused == [422]
    assert run.status == "completed" and run.output == "caf\\xe9 \\u2713", run


async def test_cancelling_run_async_stops_at_once_and_reports(
    server: ServerProcess, name: str
) -> None:
    app = Schedo(ADMIN_KEY, server.url, poll_wait=2)
    started = asyncio.Event()

    @app.job(name, NEVER, timeout=60)
    async def forever(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(60)

    runner = asyncio.create_task(app.run_async())
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        jid = await wait_for(lambda: _maybe_id(c, name), 10, "definition")
        await c.trigger_job(jid)
        await asyncio.wait_for(started.wait(), 10)
        t0 = time.monotonic()
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(runner, 20)
        assert time.monotonic() - t0 < 10
        [run] = await c.list_executions(jid)
    assert run.status == "failed" and run.error == (
        "WorkerShutdown: the worker stopped before the handler finished "
        "(the worker's task was cancelled)"
    )


async def test_a_workers_definition_is_audited_via_worker(server: ServerProcess,
                                                          name: str) -> None:
    """The server's audit log (issue 22) names the way in the worker declares; a second
    start with the same definitions records nothing."""
    async def start_and_stop() -> None:
        app = Schedo(ADMIN_KEY, server.url)
        app.job(name, NEVER)(lambda ctx: None)
        task = asyncio.create_task(app.run_async(install_signal_handlers=False))
        async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
            for _ in range(100):
                if any(j.name == name for j in await c.list_jobs()):
                    break
                await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    await start_and_stop()
    await start_and_stop()
    async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": ADMIN_KEY}) as h:
        events = [e for e in (await h.get("/audit", params={"limit": 200})).json()
                  if e["object"]["name"] == name]
    assert [(e["action"], e["actor"]["via"]) for e in events] == [("created", "worker")]
