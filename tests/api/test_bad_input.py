"""Bad input of every kind gets a clear 4xx naming the field, never a 5xx, and changes
nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_isolation import _snapshot
from tests.conftest import Api

OK = {"name": "valid-name", "schedule": "*/5 * * * *"}


def _d(**kw: Any) -> dict[str, Any]:
    return {**OK, **kw}


DEFINITIONS: list[tuple[Any, int, str]] = [
    (_d(schedule="0 24 * * *"), 400, "hour"),
    (_d(schedule="61 * * * *"), 400, "minute"),
    (_d(schedule="* * 32 * *"), 400, "day-of-month"),
    (_d(schedule="* * * 13 *"), 400, "month"),
    (_d(schedule="* * * * 8"), 400, "day-of-week"),
    (_d(schedule="not a cron"), 400, "schedule"),
    (_d(schedule=""), 400, "schedule"),
    (_d(schedule="* " * 300), 400, "schedule"),
    (_d(schedule="@every 0s"), 400, "schedule"),
    (_d(timezone="Mars/Olympus"), 400, "timezone"),
    (_d(name="abc"), 400, "name"),
    (_d(name="x" * 201), 400, "name"),
    (_d(name="a,b,c,d"), 400, "name"),
    (_d(name=" padded "), 400, "name"),
    (_d(name="bad\nname"), 400, "name"),
    (_d(timeout_seconds=0), 400, "timeout_seconds"),
    (_d(timeout_seconds=-5), 400, "timeout_seconds"),
    (_d(timeout_seconds=86401), 400, "timeout_seconds"),
    (_d(timeout_seconds=10**30), 400, "timeout_seconds"),
    (_d(max_retries=101), 400, "max_retries"),
    (_d(max_retries=-1), 400, "max_retries"),
    (_d(catch_up="sometimes"), 400, "catch_up"),
    (_d(metadata={"blob": "x" * 70_000}), 400, "metadata"),
    (_d(webhook_url="ftp://example.com/x"), 400, "webhook_url"),
    (_d(webhook_url="javascript:alert(1)"), 400, "webhook_url"),
    (_d(webhook_url="http://"), 400, "webhook_url"),
    (_d(webhook_url="https://user:pw@example.com/"), 400, "webhook_url"),
    (_d(webhook_url="https://example.com:99999/"), 400, "webhook_url"),
    (_d(command=""), 400, "command"),
    (_d(name=12345), 422, "name"),
    (_d(schedule=["* * * * *"]), 422, "schedule"),
    (_d(blocking="yes"), 422, "blocking"),
    (_d(timeout_seconds="30"), 422, "timeout_seconds"),
    (_d(timeout_seconds=1.5), 422, "timeout_seconds"),
    (_d(metadata=[1, 2]), 422, "metadata"),
    ({"schedule": "* * * * *"}, 422, "name"),
    ({"name": "no-schedule"}, 422, "schedule"),
    ([OK], 422, "body"),
    ("just a string", 422, "body"),
    (None, 422, "body"),
]


@pytest.mark.parametrize(("body", "status", "field"), DEFINITIONS)
async def test_bad_definitions(api: Api, body: Any, status: int, field: str) -> None:
    before = await _snapshot(api)
    r = await api.client.post("/jobs/definition", json=body, headers=api.admin)
    assert r.status_code == status, r.text
    assert field in r.json()["message"], r.json()
    assert await _snapshot(api) == before


RAW: list[tuple[str, str, bytes, int]] = [
    ("POST", "/jobs/definition", b"{not json", 400),
    ("POST", "/jobs/definition", b'{"name": "abcd", "schedule": ', 400),
    ("POST", "/jobs/definition", b"\xff\xfe\x00", 400),
    ("POST", "/jobs/definition", b"", 422),
    ("PATCH", "/jobs/mute/1", b"[]", 422),
    ("PATCH", "/jobs/mute/1", b'{"muted": "no"}', 422),
    ("POST", "/org/emails", b"[1]", 422),
    ("POST", "/apikeys", b'{"environment_id": "1", "name": "x"}', 422),
    ("POST", "/apikeys", b'{"environment_id": -1, "name": "x"}', 400),
    ("POST", "/apikeys", b'{"environment_id": 424242, "name": "x"}', 404),
    ("POST", "/org/environments", b'{"name": 5}', 422),
]


@pytest.mark.parametrize(("method", "path", "raw", "status"), RAW)
async def test_malformed_bodies(api: Api, method: str, path: str, raw: bytes,
                                status: int) -> None:
    await api.define(name="target-job")
    before = await _snapshot(api)
    r = await api.client.request(method, path, content=raw,
                                 headers={**api.admin, "content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["message"]
    assert await _snapshot(api) == before


@pytest.mark.parametrize("path", [
    "/jobs/abc", "/jobs/-1", "/jobs/0", "/jobs/1.5", "/jobs/99999999999999999999999",
    "/jobs/executions/abc", "/jobs/9223372036854775808/connections/count",
])
async def test_bad_ids_are_4xx(api: Api, path: str) -> None:
    r = await api.client.get(path, headers=api.admin)
    assert r.status_code in (400, 404), r.text
    assert r.json()["message"]


@pytest.mark.parametrize("written", ["{id}.0", "+{id}", "0{id}", " {id}", "{id} ", "{id}e0",
                                     "{id}_0", "\uff11"])
async def test_an_id_has_one_spelling(api: Api, written: str) -> None:
    """An existing id written any other way than its digits is refused (pydantic alone read
    "1.0", "+1", "01" and " 1" as 1, and "1_0" as 10): in paths and in query filters."""
    job = await api.define(name="one-spelling")
    for n in range(12):  # job 10 exists, so "1_0" would have named it
        await api.define(name=f"one-spelling-{n}")
    run = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    before = await _snapshot(api)
    text = written.format(id=job["id"])
    for method, path in (("GET", f"/jobs/{text}"), ("GET", f"/jobs/executions/{text}"),
                         ("DELETE", f"/jobs/{text}"), ("PATCH", f"/jobs/pause/{text}"),
                         ("POST", f"/jobs/executions/{text}/cancel"),
                         ("GET", f"/audit?job_id={text}"),
                         ("GET", f"/jobs/executions/{job['id']}?cursor={text}")):
        r = await api.client.request(method, path, headers=api.admin)
        assert r.status_code == 400, (path, r.text)
        assert "positive integer in digits" in r.json()["message"], r.text
    assert await _snapshot(api) == before
    r = await api.client.get(f"/jobs/{job['id']}", headers=api.admin)  # the digits still work
    assert r.status_code == 200 and r.json()["job"]["id"] == job["id"]
    assert run["id"] > 0


async def test_body_over_one_mebibyte_is_413(api: Api) -> None:
    before = await _snapshot(api)
    big = b'{"name": "big-body", "schedule": "* * * * *", "metadata": {"x": "' + \
        b"a" * (1024 * 1024) + b'"}}'
    r = await api.client.post("/jobs/definition", content=big,
                              headers={**api.admin, "content-type": "application/json"})
    assert r.status_code == 413 and "body" in r.json()["message"]

    async def chunks():  # no content-length: the limit still holds while streaming
        for _ in range(40):
            yield b"a" * 65536

    r = await api.client.post("/jobs/definition", content=chunks(),
                              headers={**api.admin, "content-type": "application/json"})
    assert r.status_code == 413
    assert await _snapshot(api) == before


async def test_unknown_route_and_method(api: Api) -> None:
    r = await api.client.get("/nope", headers=api.admin)
    assert r.status_code == 404 and r.json()["message"]
    r = await api.client.put("/jobs/1", headers=api.admin)
    assert r.status_code == 405 and r.json()["message"]


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", "/jobs/definition", "POST"), ("DELETE", "/jobs/definition", "POST"),
    ("DELETE", "/jobs/list", "GET"), ("GET", "/jobs/executions/complete", "POST"),
    ("PUT", "/jobs/executions", "GET"), ("GET", "/api/jobs/definition", "POST"),
])
async def test_a_fixed_path_with_another_method_is_405(api: Api, method: str, path: str,
                                                       allowed: str) -> None:
    """``GET /jobs/definition`` matched ``GET /jobs/{job_id}`` and answered a 400 about
    ``job_id``; the path exists, for POST: 405 with ``Allow`` (SPEC 2.2)."""
    r = await api.client.request(method, path, headers=api.admin)
    assert r.status_code == 405, r.text
    assert allowed in r.headers["allow"].split(", ") and r.json()["message"]


async def test_a_trailing_slash_is_not_redirected(api: Api) -> None:
    """No 307 to the same path without its slash: Starlette built its Location from the
    Host header, always http://, and a client following it would resend its key there."""
    r = await api.client.get("/jobs/", headers={**api.admin, "Host": "evil.example"})
    assert r.status_code == 404 and "location" not in r.headers
    assert (await api.client.get("/jobs", headers=api.admin)).status_code == 200


async def test_a_route_without_a_body_refuses_one_and_changes_nothing(api: Api) -> None:
    """``PATCH /jobs/resume/{id}`` and the other routes that take no body answered 200 to
    ``{"x": 1}`` or to garbage and went ahead; a body with content is now a 400 (docs/api.md:
    an unknown field is a 400 on every body), while none, ``{}`` and ``null`` still work."""
    job = await api.define(name="no-body")
    await api.client.patch(f"/jobs/pause/{job['id']}", headers=api.admin)
    run = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    await api.client.get("/jobs/executions", params={"jobs": "no-body", "wait": "0"},
                         headers=api.admin)
    r = await api.client.post(f"/jobs/executions/complete/{run['id']}", json={"success": False},
                              headers=api.admin)
    assert r.status_code == 200, r.text  # an ended run can be re-run
    env = (await api.client.post("/org/environments", json={"name": "spare"},
                                 headers=api.admin)).json()
    routes = [("PATCH", f"/jobs/resume/{job['id']}"),
              ("POST", f"/jobs/executions/{run['id']}/rerun"),
              ("DELETE", f"/org/environments/{env['id']}"), ("DELETE", f"/jobs/{job['id']}")]
    before = await _snapshot(api)
    for method, path in routes:
        for body, says in ((b'{"x": 1}', "unknown field 'x'"), (b"garbage", "no body"),
                           (b"[1]", "no body")):
            r = await api.client.request(method, path, content=body,
                                         headers={**api.admin, "content-type": "application/json"})
            assert r.status_code == 400 and says in r.json()["message"], (path, body, r.text)
    assert await _snapshot(api) == before
    for (method, path), body in zip(routes, (b"{}", b"null", b"", b" {} "), strict=True):
        r = await api.client.request(method, path, content=body,
                                     headers={**api.admin, "content-type": "application/json"})
        assert r.status_code == 200, (path, body, r.text)


async def test_an_unknown_field_is_guessed_among_the_fields_where_it_sits(api: Api) -> None:
    """The guess came from every field some body knows, so a route's unknown ``overlap``
    got "did you mean 'overlap'?" (a definition's field, not this route's)."""
    r = await api.client.post("/org/environments/1/webhook-secret/rotate",
                              json={"overlap": 1}, headers=api.admin)
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "body: unknown field 'overlap'"
    r = await api.client.post("/org/environments/1/webhook-secret/rotate",
                              json={"overlap_second": 1}, headers=api.admin)
    assert "did you mean 'overlap_seconds'?" in r.json()["message"], r.text
    r = await api.client.post("/jobs/definition", json={**OK, "max_retires": 1},
                              headers=api.admin)
    assert r.json()["message"] == "body: unknown field 'max_retires' (did you mean " \
                                  "'max_retries'?)"
