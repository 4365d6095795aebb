"""The hosted API's official (Stainless-generated) TypeScript client against Schedo: the exact
requests it sends, at ``/`` and ``/api`` (issue 16, point 3), and the definition fields it and
its users send (point 7)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from schedo.server.api.middleware import RetryHint
from tests.api.test_isolation import _snapshot
from tests.conftest import Api

# what every request of the client carries besides the key (its own headers, verbatim names)
CLIENT_HEADERS = {
    "accept": "application/json",
    "content-type": "application/json",
    "user-agent": "Schedo/JS 0.4.0",
    "x-stainless-lang": "js",
    "x-stainless-package-version": "0.4.0",
    "x-stainless-os": "Linux",
    "x-stainless-arch": "x64",
    "x-stainless-runtime": "node",
    "x-stainless-runtime-version": "v20.20.2",
    "x-stainless-retry-count": "0",
    "x-stainless-timeout": "60",
}


def _h(api: Api) -> dict[str, str]:
    return {**CLIENT_HEADERS, **api.admin}


@pytest.fixture(params=["", "/api"])
def base(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_mute_with_an_empty_body_mutes(api: Api, base: str) -> None:
    job = await api.define(name="mute-target")
    r = await api.client.patch(f"{base}/jobs/mute/{job['id']}", content=b"{}", headers=_h(api))
    assert r.status_code == 200, r.text
    assert r.json()["muted"] is True
    r = await api.client.patch(f"{base}/jobs/mute/{job['id']}", content=b'{"muted":false}',
                               headers=_h(api))
    assert r.status_code == 200 and r.json()["muted"] is False


async def test_webhook_update_without_url_clears_it(api: Api, base: str) -> None:
    push = await api.define(name="push-target", webhook_url="https://example.com/hook")
    assert push["type"] == "push"
    r = await api.client.patch(f"{base}/jobs/webhook/{push['id']}", content=b"{}",
                               headers=_h(api))
    assert r.status_code == 200, r.text
    assert r.json()["webhook_url"] is None and r.json()["type"] == "sdk"
    # a command job stays a command job when an (absent) URL is "cleared"
    cmd = await api.define(name="cmd-target", command="echo hi")
    r = await api.client.patch(f"{base}/jobs/webhook/{cmd['id']}", content=b"{}",
                               headers=_h(api))
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "command" and r.json()["command"] == "echo hi"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/jobs/definition", b'{"name": "abc", "schedule": "* * * * *"}', 400),
        ("GET", "/jobs/999999", None, 404),
        ("POST", "/jobs/executions/complete/999999", b'{"success": true}', 404),
        ("POST", "/jobs/definition", b'{"name": 5, "schedule": "* * * * *"}', 422),
        ("GET", "/org/environments", None, 403),  # with an environment key
    ],
)
async def test_permanent_errors_tell_the_client_not_to_retry(
    api: Api, base: str, method: str, path: str, body: bytes | None, status: int
) -> None:
    headers = _h(api)
    if status == 403:
        headers = {**CLIENT_HEADERS, **(await api.env_key())}
    r = await api.client.request(method, base + path, content=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["x-should-retry"] == "false"
    r = await api.client.get(base + "/jobs", headers={**CLIENT_HEADERS, "x-api-key": "sk_nope"})
    assert r.status_code == 401 and r.headers["x-should-retry"] == "false"
    r = await api.client.post(base + "/jobs/definition", content=b"x" * (1024 * 1024 + 1),
                              headers=_h(api))
    assert r.status_code == 413 and r.headers["x-should-retry"] == "false"


async def test_a_conflicting_completion_is_not_retried(api: Api, base: str) -> None:
    job = await api.define(name="conflict-job")
    ex = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=_h(api))).json()
    path = f"{base}/jobs/executions/complete/{ex['id']}"
    ok = await api.client.post(path, content=b'{"success": true}', headers=_h(api))
    assert ok.status_code == 200 and "x-should-retry" not in ok.headers
    r = await api.client.post(path, content=b'{"success": false}', headers=_h(api))
    assert r.status_code == 409 and r.headers["x-should-retry"] == "false"


async def test_transient_errors_tell_the_client_to_retry() -> None:
    """429 and 503 carry ``x-should-retry: true`` (the middleware the server installs, on an
    app that answers those statuses on demand)."""

    async def answer(request: Any) -> JSONResponse:
        status = int(request.path_params["status"])
        return JSONResponse({"message": "x"}, status_code=status)

    app = RetryHint(Starlette(routes=[Route("/{status:int}", answer)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for status, hint in [(429, "true"), (503, "true"), (409, "false"), (200, None),
                             (500, None)]:
            r = await c.get(f"/{status}")
            assert r.headers.get("x-should-retry") == hint, status


async def test_completion_after_a_delete_with_the_clients_request(api: Api, base: str) -> None:
    """``jobExecution.complete`` for a run of a deleted job, after a new job and run were made:
    a 404 the client does not retry, never a 503, and the new run is untouched."""
    old = await api.define(name="old-job")
    ex = (await api.client.post(f"/jobs/trigger/{old['id']}", headers=_h(api))).json()
    await api.client.delete(f"/jobs/{old['id']}", headers=_h(api))
    new = await api.define(name="new-job")
    ex2 = (await api.client.post(f"/jobs/trigger/{new['id']}", headers=_h(api))).json()
    assert ex2["id"] != ex["id"]
    body = b'{"success":true,"output":"done","start_server_time_utc":1764900000000,' \
           b'"complete_server_time_utc":1764900001000}'
    r = await api.client.post(f"{base}/jobs/executions/complete/{ex['id']}", content=body,
                              headers=_h(api))
    assert r.status_code == 404, r.text
    assert r.headers["x-should-retry"] == "false"
    runs = (await api.client.get(f"/jobs/executions/{new['id']}", headers=_h(api))).json()
    assert [e["status"] for e in runs] == ["pending"]


async def test_org_environment_and_key_carry_edges(api: Api, base: str) -> None:
    h = _h(api)
    assert (await api.client.get(f"{base}/org", headers=h)).json()["edges"] == {}
    envs = (await api.client.get(f"{base}/org/environments", headers=h)).json()
    assert all(e["edges"] == {} for e in envs)
    env = (await api.client.post(f"{base}/org/environments", content=b'{"name":"stage"}',
                                 headers=h)).json()
    assert env["edges"] == {}
    key = (await api.client.post(f"{base}/apikeys",
                                 content=b'{"environment_id":1,"name":"ci"}', headers=h)).json()
    assert key["edges"] == {}
    listed = (await api.client.get(f"{base}/apikeys", headers=h)).json()
    assert all(k["edges"] == {} for k in listed)
    revoked = (await api.client.delete(f"{base}/apikeys/revoke/{key['id']}", headers=h)).json()
    assert revoked[0]["edges"] == {}


# -- point 7: unknown definition fields -------------------------------------------------------

OK = {"name": "typo-job", "schedule": "*/5 * * * *"}


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"max_retires": 3}, ["'max_retires'", "did you mean 'max_retries'"]),
        ({"timezon": "Europe/Berlin"}, ["'timezon'", "did you mean 'timezone'"]),
        ({"colour": "red", "size": 2}, ["unknown fields", "'colour'", "'size'"]),
        ({"timeout": "soon"}, ["timeout", "not a duration"]),
        ({"timeout": "5s", "timeout_seconds": 6}, ["timeout", "disagrees"]),
    ],
)
async def test_unknown_or_bad_fields_are_refused_naming_them(
    api: Api, base: str, extra: dict[str, Any], words: list[str]
) -> None:
    before = await _snapshot(api)
    r = await api.client.post(f"{base}/jobs/definition", json={**OK, **extra}, headers=_h(api))
    assert r.status_code == 400, r.text
    assert r.headers["x-should-retry"] == "false"
    for w in words:
        assert w in r.json()["message"], r.json()
    assert await _snapshot(api) == before


async def test_timeout_as_the_response_shows_it_is_accepted(api: Api, base: str) -> None:
    job = (await api.client.post(f"{base}/jobs/definition", json={**OK, "timeout": "5s"},
                                 headers=_h(api))).json()
    assert job["timeout_seconds"] == 5 and job["timeout"] == "5s"
    again = await api.client.post(f"{base}/jobs/definition",
                                  json={**OK, "timeout": "1h30m", "timeout_seconds": 5400},
                                  headers=_h(api))
    assert again.status_code == 200 and again.json()["timeout_seconds"] == 5400
    # a job read back and sent again as it is: every field the response carries... the known
    # input ones define the same job
    shown = again.json()
    resend = {k: shown[k] for k in ("name", "blocking", "metadata", "timeout_seconds",
                                    "timeout", "max_retries", "timezone", "catch_up")}
    r = await api.client.post(f"{base}/jobs/definition",
                              json={**resend, "schedule": shown["cron_expression"]},
                              headers=_h(api))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == shown["id"] and r.json()["timeout_seconds"] == 5400


# -- issue 23, point 3: hostile nesting --------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize("depth", [33, 256, 900, 5000])
async def test_deeply_nested_bodies_are_refused_at_the_door(api: Api, depth: int) -> None:
    await api.define(name="bystander")
    before = await _snapshot(api)
    raw = b'{"name":"deep-job","schedule":"* * * * *","metadata":' + \
        b'{"k":' * (depth - 1) + b'"leaf"' + b"}" * (depth - 1) + b"}"
    r = await api.client.post("/jobs/definition", content=raw, headers=_h(api))
    assert r.status_code == 400, r.text
    assert "nested deeper than 32 levels" in r.json()["message"]
    assert await _snapshot(api) == before
    # same for any other JSON route, e.g. a completion
    r = await api.client.post("/jobs/executions/complete/1",
                              content=b'{"success":true,"output":' + b"[" * depth +
                              b"]" * depth + b"}", headers=_h(api))
    assert r.status_code == 400, r.text


async def test_metadata_nested_to_the_limit_is_stored_and_served(api: Api) -> None:
    job = await api.define(name="deep-but-ok", metadata=_nested(30))
    assert job["metadata"] == _nested(30)
    listed = await api.client.get("/jobs/list", headers=api.admin)
    assert listed.status_code == 200
    ex = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    assert ex["metadata"] == _nested(30)
    # brackets inside strings are text, not nesting
    job = await api.define(name="brackets-in-text", metadata={"s": "[" * 100 + "{" * 100})
    assert job["metadata"]["s"].startswith("[[[")


@pytest.mark.parametrize("field", ["max_retries", "timeout_seconds", "metadata"])
async def test_an_integer_too_long_for_python_is_a_clear_400(api: Api, field: str) -> None:
    """Python reads no integer of more than 4,300 digits: a clear 400 naming it (not
    FastAPI's bare "error parsing the body"), nothing changed."""
    before = await _snapshot(api)
    value = b"9" * 5000 if field != "metadata" else b'{"n": -' + b"9" * 5000 + b"}"
    raw = b'{"name":"long-number","schedule":"* * * * *","' + field.encode() + b'":' + \
        value + b"}"
    r = await api.client.post("/jobs/definition", content=raw, headers=_h(api))
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "body: a number longer than 4300 digits"
    assert await _snapshot(api) == before


async def test_long_digit_runs_in_text_and_fractions_are_no_long_integer(api: Api) -> None:
    meta = b'{"s": "' + b"7" * 5000 + b'", "f": 1.' + b"5" * 5000 + b', "e": 1' + \
        b"0" * 4400 + b"e-4400}"
    raw = b'{"name":"digits-ok","schedule":"* * * * *","metadata":' + meta + b"}"
    r = await api.client.post("/jobs/definition", content=raw, headers=_h(api))
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["s"] == "7" * 5000
    assert str(r.json()["metadata"]["f"]).startswith("1.555")


async def test_metadata_with_too_many_keys_is_refused(api: Api) -> None:
    before = await _snapshot(api)
    many = {"a": {f"k{i}": i for i in range(600)}, "b": [{f"j{i}": i} for i in range(400)]}
    r = await api.client.post("/jobs/definition", json={**OK, "metadata": many},
                              headers=_h(api))
    assert r.status_code == 400 and "at most 1000" in r.json()["message"], r.text
    assert r.json()["message"].startswith("metadata:")
    assert await _snapshot(api) == before


# -- issue 24, points 1 and 5: text no database can store, int4 edges -------------------------

SURROGATE = b'"\\ud800"'
NUL = b'"a\\u0000b"'


@pytest.mark.parametrize("bad", [SURROGATE, NUL], ids=["surrogate", "nul"])
@pytest.mark.parametrize(
    ("method", "path", "template", "field"),
    [
        ("POST", "/jobs/definition", b'{"name": X, "schedule": "* * * * *"}', "name"),
        ("POST", "/jobs/definition/internal", b'{"name": "abcd", "schedule": X}', "schedule"),
        ("POST", "/jobs/definition", b'{"name": "abcd", "schedule": "* * * * *", "command": X}',
         "command"),
        ("POST", "/jobs/definition", b'{"name": "abcd", "schedule": "* * * * *", '
         b'"metadata": {"k": X}}', "metadata: k"),
        ("POST", "/jobs/definition", b'{"name": "abcd", "schedule": "* * * * *", '
         b'"metadata": {"a": [1, {"b": X}]}}', "metadata: a.1.b"),
        ("POST", "/jobs/definition", b'{"name": "abcd", "schedule": "* * * * *", '
         b'"metadata": {X: 1}}', "metadata"),
        ("POST", "/org/environments", b'{"name": X}', "name"),
        ("POST", "/apikeys", b'{"environment_id": 1, "name": X}', "name"),
        ("POST", "/org/emails", b"X", "email"),
        ("DELETE", "/org/emails", b"X", "email"),
    ],
)
async def test_text_no_database_stores_is_a_400_naming_the_field(
    api: Api, method: str, path: str, template: bytes, field: str, bad: bytes
) -> None:
    before = await _snapshot(api)
    emails = (await api.client.get("/org/emails", headers=api.admin)).json()
    r = await api.client.request(method, path, content=template.replace(b"X", bad),
                                 headers=_h(api))
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith(field), r.json()
    assert await _snapshot(api) == before
    assert (await api.client.get("/org/emails", headers=api.admin)).json() == emails


@pytest.mark.parametrize("bad", [SURROGATE, NUL], ids=["surrogate", "nul"])
async def test_reported_text_is_stored_safely(api: Api, bad: bytes) -> None:
    """A worker's output or error is never refused for its characters: each lone surrogate or
    NUL is stored as U+FFFD (single and batch reports)."""
    job = await api.define(name="odd-output")
    one = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    r = await api.client.post(f"/jobs/executions/complete/{one['id']}",
                              content=b'{"success": true, "output": ' + bad + b"}",
                              headers=_h(api))
    assert r.status_code == 200, r.text
    assert "\ufffd" in r.json()["output"]
    two = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    r = await api.client.post("/jobs/executions/complete",
                              content=b'{"results": [{"id": %d, "success": false, "error": %s}]}'
                              % (two["id"], bad), headers=_h(api))
    assert r.status_code == 200 and r.json()[0]["status"] == 200, r.text
    assert "\ufffd" in r.json()[0]["execution"]["error"]
    listed = (await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
    assert {e["status"] for e in listed} == {"completed", "failed"}


@pytest.mark.parametrize("cursor", [2147483647, 2147483648])
async def test_history_cursor_at_the_int4_edges(api: Api, cursor: int) -> None:
    job = await api.define(name="cursor-job")
    await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)
    r = await api.client.get(f"/jobs/executions/{job['id']}?cursor={cursor}", headers=api.admin)
    assert r.status_code == 200, r.text
    assert len(r.json()) == 1
    for above in (2147483649, 2**63):  # docs/api.md, Limits: above 2^31-1, every id
        r = await api.client.get(f"/jobs/executions/{job['id']}?cursor={above}",
                                 headers=api.admin)
        assert r.status_code == 200 and len(r.json()) == 1, r.text
    r = await api.client.get(f"/jobs/executions/{job['id']}?cursor={2**64}", headers=api.admin)
    assert r.status_code == 400  # an id is at most 19 digits
