"""``schedo.Client`` / ``AsyncClient`` against a real server process: every endpoint, the
typed answers, and the error classes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import schedo
from schedo import (
    ApiError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    Execution,
    Forbidden,
    Job,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthorized,
    Unprocessable,
)
from schedo.sdk.calls import clean_text
from schedo.sdk.endpoints import Report
from schedo.sdk.errors import ConfigurationError
from tests.support.server import ADMIN_KEY, ServerProcess, free_port

NEVER = "0 0 1 1 *"


def _aware(dt: datetime | None) -> bool:
    return dt is not None and dt.tzinfo is not None and dt.utcoffset() == timedelta(0)


# -- jobs -------------------------------------------------------------------------------------


def test_define_job_with_every_option_and_redefine(client: schedo.Client, name: str) -> None:
    job = client.define_job(
        name,
        "30 2 * * *",
        blocking=True,
        metadata={"team": "data", "n": [1, 2]},
        timeout_seconds=300,
        max_retries=3,
        timezone="Europe/Berlin",
        catch_up="all",
    )
    assert isinstance(job, Job)
    assert (job.name, job.key, job.type) == (name, name, "sdk")
    assert job.cron_expression == "30 2 * * *" and job.timezone == "Europe/Berlin"
    assert job.blocking is True and job.paused is False and job.muted is False
    assert (job.timeout_seconds, job.timeout, job.max_retries) == (300, "5m", 3)
    assert job.catch_up == "all" and job.metadata == {"team": "data", "n": [1, 2]}
    assert job.webhook_url is None and job.command is None and job.last_run_at is None
    assert _aware(job.created_at) and _aware(job.updated_at) and _aware(job.next_run_at)
    assert job.next_run_at is not None and job.next_run_at > datetime.now(UTC)
    assert job.raw["id"] == job.id

    again = client.define_job(name, "*/5 * * * *")
    assert again.id == job.id and again.cron_expression == "*/5 * * * *"
    assert again.timezone == "UTC" and again.timeout_seconds == 60


def test_push_and_command_jobs_and_set_webhook(client: schedo.Client, name: str) -> None:
    push = client.define_job(name, NEVER, webhook_url="https://example.com/hook")
    assert push.type == "push" and push.webhook_url == "https://example.com/hook"
    changed = client.set_webhook(push.id, "https://example.org/other")
    assert changed.webhook_url == "https://example.org/other"
    cleared = client.set_webhook(push.id, None)
    assert cleared.webhook_url is None
    cmd = client.define_job(name + "-cmd", NEVER, command="echo hi")
    assert cmd.type == "command" and cmd.command == "echo hi"


def test_list_get_and_delete(client: schedo.Client, name: str) -> None:
    job = client.define_job(name, NEVER)
    assert job.id in {j.id for j in client.list_jobs()}
    listed = {w.job.id: w for w in client.list_jobs_with_connections()}
    assert listed[job.id].connections_count == 0 and listed[job.id].job.name == name

    detail = client.get_job(job.id)
    assert detail.job == job or detail.job.id == job.id
    assert detail.connections_count == 0 and detail.last_run is None
    run = client.trigger_job(job.id)
    assert client.get_job(job.id).last_run == run or client.get_job(job.id).last_run is not None

    text = client.delete_job(job.id)
    assert isinstance(text, str) and str(job.id) in text
    with pytest.raises(NotFound) as err:
        client.get_job(job.id)
    assert err.value.status == 404 and err.value.message
    assert isinstance(err.value, LookupError)


def test_mute_pause_resume(client: schedo.Client, name: str) -> None:
    job = client.define_job(name, "* * * * *")
    assert client.mute_job(job.id, True).muted is True
    assert client.mute_job(job.id, False).muted is False
    paused = client.pause_job(job.id)
    assert paused.paused is True and paused.next_run_at is None
    resumed = client.resume_job(job.id)
    assert resumed.paused is False and _aware(resumed.next_run_at)


# -- executions -------------------------------------------------------------------------------


def test_trigger_pull_complete_and_connections(client: schedo.Client, name: str) -> None:
    job = client.define_job(name, NEVER, metadata={"k": "v"})
    run = client.trigger_job(job.id)
    assert isinstance(run, Execution)
    assert (run.job_id, run.job_code, run.trigger, run.attempt) == (job.id, name, "manual", 1)
    assert run.status == "pending" and _aware(run.scheduled_for)

    worker = str(uuid.uuid4())
    got = client.pull_executions([name], wait=5, limit=5, worker_id=worker)
    assert [e.id for e in got] == [run.id]
    claimed = got[0]
    assert claimed.status == "running" and _aware(claimed.pick_up_time)
    assert claimed.metadata == {"k": "v"}
    assert client.connections_count(job.id) == 1
    listed = {w.job.id: w.connections_count for w in client.list_jobs_with_connections()}
    assert listed[job.id] == 1
    assert client.get_job(job.id).connections_count == 1

    # nothing else is due: the long poll waits, then answers []
    assert client.pull_executions(name, wait=0.2, limit=1, worker_id=worker) == []

    start = datetime.now(UTC) - timedelta(seconds=2)
    end = start + timedelta(milliseconds=1500)
    done = client.complete_execution(run.id, True, output="all good", start_ms=start, end_ms=end)
    assert done.status == "completed" and done.output == "all good"
    assert done.duration == 1500 and _aware(done.start_time) and _aware(done.end_time)
    # the same report again is harmless; a different one is a conflict
    assert client.complete_execution(run.id, True, output="all good").status == "completed"
    with pytest.raises(Conflict) as err:
        client.complete_execution(run.id, False, error="late failure")
    assert err.value.status == 409 and "completed" in err.value.message


def test_failed_report_with_exit_code(client: schedo.Client, name: str) -> None:
    job = client.define_job(name, NEVER)
    run = client.trigger_job(job.id)
    client.pull_executions([name], wait=5, limit=1)
    failed = client.complete_execution(
        run.id, False, output="tail", error="ValueError: x", exit_code=3
    )
    assert (failed.status, failed.error, failed.output, failed.exit_code) == (
        "failed",
        "ValueError: x",
        "tail",
        3,
    )


def test_list_and_iter_executions_follow_the_cursor(client: schedo.Client, name: str) -> None:
    job = client.define_job(name, NEVER)
    ids = [client.trigger_job(job.id).id for _ in range(5)]
    first = client.list_executions(job.id, limit=2)
    assert [e.id for e in first] == sorted(ids, reverse=True)[:2]
    second = client.list_executions(job.id, cursor=first[-1].id, limit=2)
    assert [e.id for e in second] == sorted(ids, reverse=True)[2:4]
    assert [e.id for e in client.iter_executions(job.id, page_size=2)] == sorted(ids, reverse=True)
    assert [e.id for e in client.iter_executions(job.id)] == sorted(ids, reverse=True)


# -- keys, environments, organisation ---------------------------------------------------------


def test_api_keys_create_use_list_revoke(
    client: schedo.Client, server: ServerProcess, name: str
) -> None:
    key = client.create_api_key(1, "sdk test key")
    assert key.key.startswith("sk_") and len(key.key) > 20
    assert key.environment_id == 1 and key.revoked is False and _aware(key.created_at)
    with schedo.Client(key.key, server.url) as env_client:
        env_client.define_job(name, NEVER)
        assert name in {j.name for j in env_client.list_jobs()}
        with pytest.raises(Forbidden) as err:
            env_client.create_environment("not allowed")
        assert err.value.status == 403
    listed = {k.id: k for k in client.list_api_keys()}
    assert key.id in listed and listed[key.id].key != key.key  # only a prefix now
    revoked = client.revoke_api_key(key.id)
    assert revoked.id == key.id and revoked.revoked is True
    with schedo.Client(key.key, server.url) as env_client, pytest.raises(Unauthorized) as e2:
        env_client.list_jobs()
    assert e2.value.status == 401 and "x-api-key" in e2.value.message


def test_environments_and_the_environment_header(
    client: schedo.Client, server: ServerProcess, name: str
) -> None:
    env = client.create_environment(f"staging-{name}")
    assert env.name == f"staging-{name}" and env.organization_id == 1
    assert env.webhook_signature_key and _aware(env.created_at)
    assert env.id in {e.id for e in client.list_environments()}
    with schedo.Client(ADMIN_KEY, server.url, environment_id=env.id) as scoped:
        assert scoped.environment_id == env.id
        scoped.define_job(name, NEVER)
        assert [j.name for j in scoped.list_jobs()] == [name]
    assert name not in {j.name for j in client.list_jobs()}  # the first environment
    deleted = client.delete_environment(env.id)
    assert deleted.id == env.id
    assert env.id not in {e.id for e in client.list_environments()}


def test_org_and_emails(client: schedo.Client) -> None:
    org = client.get_org()
    assert org.id == 1 and org.name and org.clerk_id is None
    address = f"ops-{uuid.uuid4().hex[:6]}@example.com"
    assert address in client.add_email(address)
    assert address in client.list_emails()
    assert address in client.get_org().emails
    assert address not in client.remove_email(address)
    assert address not in client.list_emails()


# -- errors -----------------------------------------------------------------------------------


def test_bad_schedule_is_bad_request_and_value_error(client: schedo.Client, name: str) -> None:
    with pytest.raises(BadRequest) as err:
        client.define_job(name, "0 24 * * *")
    assert err.value.status == 400 and "hour" in err.value.message
    assert isinstance(err.value, ValueError) and isinstance(err.value, ApiError)
    with pytest.raises(ValueError):
        client.define_job(name, "not a cron")


def test_wrong_shape_is_unprocessable(client: schedo.Client) -> None:
    with pytest.raises(Unprocessable) as err:
        client.create_api_key("1", "x")  # type: ignore[arg-type]
    assert err.value.status == 422 and "environment_id" in err.value.message


def test_huge_body_is_payload_too_large(client: schedo.Client, name: str) -> None:
    with pytest.raises(PayloadTooLarge) as err:
        client.define_job(name, NEVER, metadata={"blob": "x" * (2 * 1024 * 1024)})
    assert err.value.status == 413


def test_unknown_key_is_unauthorized(server: ServerProcess) -> None:
    with schedo.Client("sk_not_a_key_at_all_000000", server.url) as c, pytest.raises(Unauthorized):
        c.list_jobs()


def test_unreachable_server_is_connection_failed() -> None:
    with schedo.Client("sk_x", f"http://127.0.0.1:{free_port()}", timeout=2) as c:
        with pytest.raises(ConnectionFailed) as err:
            c.list_jobs()
    assert "cannot reach" in str(err.value)
    assert not isinstance(err.value, ApiError)


def _fake(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(answer)


def test_rate_limited_carries_retry_after_and_5xx_is_server_error() -> None:
    # the server has no rate limit yet: the mapping is checked on a canned answer
    transport = _fake(429, {"message": "slow down"}, {"Retry-After": "7"})
    with schedo.Client("sk_x", "http://schedo.test", transport=transport) as c:
        with pytest.raises(RateLimited) as err:
            c.list_jobs()
    assert (err.value.status, err.value.message, err.value.retry_after) == (429, "slow down", 7)
    with schedo.Client("sk_x", "http://schedo.test", transport=_fake(503, {"detail": "x"})) as c:
        with pytest.raises(ServerError) as err5:
            c.get_org()
    assert err5.value.status == 503 and err5.value.message == "x"


def test_answers_tolerate_unknown_and_missing_fields() -> None:
    body = [
        {
            "id": 7,
            "name": "minimal-job",
            "new_field": {"x": 1},
            "created_at": "2026-11-28T12:00:00.250Z",
            "next_run_at": None,
        }
    ]
    with schedo.Client("sk_x", "http://schedo.test", transport=_fake(200, body)) as c:
        [job] = c.list_jobs()
    assert job.id == 7 and job.key == "minimal-job" and job.metadata == {}
    assert job.created_at == datetime(2026, 11, 28, 12, 0, 0, 250000, tzinfo=UTC)
    assert job.next_run_at is None and job.raw["new_field"] == {"x": 1}


def test_sends_key_environment_and_user_agent() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=["a@example.com"])

    transport = httpx.MockTransport(answer)
    with schedo.Client(
        "sk_abc", "http://schedo.test/api/", environment_id=3, transport=transport
    ) as c:
        c.remove_email("a@example.com")
    r = seen[0]
    assert r.method == "DELETE" and r.url.path == "/api/org/emails"
    assert r.headers["x-api-key"] == "sk_abc" and r.headers["x-api-environment"] == "3"
    assert r.headers["user-agent"] == f"schedo-python/{schedo.__version__}"
    assert json.loads(r.content) == "a@example.com"


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess
) -> None:
    monkeypatch.setenv("SCHEDO_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("SCHEDO_BASE_URL", server.url)
    with schedo.Client() as c:
        assert c.base_url == server.url and c.get_org().id == 1
    monkeypatch.delenv("SCHEDO_API_KEY")
    with pytest.raises(ConfigurationError, match="SCHEDO_API_KEY"):
        schedo.Client()
    monkeypatch.delenv("SCHEDO_BASE_URL")
    assert schedo.Client("k").base_url == "http://127.0.0.1:8000"


# -- the async twin ---------------------------------------------------------------------------


def test_reports_with_lone_surrogates_are_sent_with_replacement_characters(
    client: schedo.Client, name: str
) -> None:
    """Text decoded with surrogateescape cannot be encoded as UTF-8: the client replaces each
    lone surrogate with U+FFFD instead of failing to build the request."""
    bad = os.fsdecode(b"caf\xe9 \xff")
    assert bad == "caf\udce9 \udcff" and clean_text(bad) == "caf\ufffd \ufffd"
    assert clean_text("\ud83d\ude00 \ud83d") == "\U0001f600 \ufffd"  # a pair is kept
    assert clean_text("café ✓") == "café ✓"
    job = client.define_job(name, NEVER)
    run = client.trigger_job(job.id)
    client.pull_executions([name], wait=5, limit=1)
    done = client.complete_execution(run.id, False, output=f"out {bad}", error=f"err {bad}")
    assert (done.status, done.output, done.error) == (
        "failed", "out caf\ufffd \ufffd", "err caf\ufffd \ufffd"
    )


async def test_batched_reports_with_lone_surrogates(server: ServerProcess, name: str) -> None:
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        job = await c.define_job(name, NEVER)
        runs = [await c.trigger_job(job.id) for _ in range(2)]
        await c.pull_executions([name], wait=5, limit=2)
        results = await c.complete_executions(
            [Report(r.id, True, output=os.fsdecode(b"\xff" * (i + 1))) for i, r in enumerate(runs)]
        )
    assert [(r.status, r.execution.output if r.execution else None) for r in results] == [
        (200, "\ufffd"), (200, "\ufffd\ufffd")
    ]


async def test_async_client_surface(server: ServerProcess, name: str) -> None:
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        job = await c.define_job(name, NEVER, timeout_seconds=5)
        assert job.timeout_seconds == 5 and (await c.get_job(job.id)).job.id == job.id
        assert name in {j.name for j in await c.list_jobs()}
        run = await c.trigger_job(job.id)
        [got] = await c.pull_executions([name], wait=5, limit=2, worker_id="async-test")
        assert got.id == run.id and await c.connections_count(job.id) == 1
        done = await c.complete_execution(run.id, True, output="ok")
        assert done.status == "completed"
        assert [e.id async for e in c.iter_executions(job.id, page_size=1)] == [run.id]
        assert (await c.pause_job(job.id)).paused and not (await c.resume_job(job.id)).paused
        assert (await c.get_org()).id == 1
        with pytest.raises(BadRequest):
            await c.define_job(name, "61 * * * *")
        assert str(job.id) in await c.delete_job(job.id)
        with pytest.raises(NotFound):
            await c.get_job(job.id)


def test_importing_the_sdk_loads_no_server_dependency() -> None:
    # (rich is not checked: httpx itself imports it for its own CLI when it is installed)
    code = (
        "import sys, schedo, schedo.webhooks; schedo.Client; schedo.AsyncClient; "
        "schedo.Schedo; schedo.JobContext; import schedo.sdk.worker; "
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'sqlalchemy', "
        "'cronsim', 'typer', 'pydantic', 'starlette', 'uvicorn', 'structlog', 'alembic'}); "
        "print(','.join(bad))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert r.stdout.strip() == "", r.stdout
