"""Schema-driven fuzz of every route (issue 24): walk the app's own OpenAPI document and send
each operation hostile values in each path parameter, query parameter, API key header and
body field (lone surrogates, NULs and other control characters, int4 and int8 edges, deep
nesting, wrong types), plus the ping URLs, which are outside the document.

Deterministic (no random data): every value in every place, on SQLite and on PostgreSQL.
Asserted: never a 5xx (a 503 is for a database that is really unavailable, never for bad
input), the API's JSON error body on every error, and a refused write changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.api.test_isolation import _snapshot
from tests.conftest import ADMIN_KEY, Api

# raw JSON values put into a body field (or sent as the whole body)
JSON_VALUES = [
    '"\\ud800"', '"a\\udfffb"', '"a\\u0000b"', '"\\u0007bell"', '"\\u007f"', '""',
    "2147483647", "2147483648", "-1", "0", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "1e400", "1.5", "true", "null", "[]", "{}",
    '"\\u00b2"', '"\\u0663"', '"1\\u00b2"',  # digits to str.isdigit, not to int()
    '{"a": "\\ud800"}', '{"\\u0000": 1}', "[" * 40 + "]" * 40, '{"k":' * 40 + "1" + "}" * 40,
]
# raw (already percent-encoded) values of a path or query parameter
URL_VALUES = [
    "%ED%A0%80", "a%00b", "%00", "%07", "%7F", "%FF", "", "0", "-1", "1.5", "abc",
    "2147483647", "2147483648", "4294967296", "9223372036854775807", "9223372036854775808",
    "1e400", "nan", "inf", "true", "%C2%B2", "%D9%A3", "-%C2%B2",
]
HEADER_VALUES = [b"a\x00b", b"\x7f", b"sk_0123456789abcdef\x01", b"\xe9\xff", b"x" * 5000,
                 b"\t", b"2147483648", b"-1", b"9223372036854775808", b"\xed\xa0\x80"]

# a valid body for each route that takes one (the fuzzer replaces one field at a time)
BASE_BODIES: dict[tuple[str, str], Any] = {
    ("post", "/jobs/definition"): {"name": "fuzz-target", "schedule": "*/5 * * * *"},
    ("post", "/jobs/definition/internal"): {"name": "fuzz-target", "schedule": "*/5 * * * *"},
    ("patch", "/jobs/mute/{job_id}"): {"muted": True},
    ("patch", "/jobs/pause/{job_id}"): {"until": "2030-01-01T00:00:00Z"},
    ("patch", "/jobs/skip/{job_id}"): {"count": 1},
    ("post", "/jobs/trigger/{job_id}"): {"payload": {"a": 1}},
    ("patch", "/jobs/webhook/{job_id}"): {"webhook_url": "https://example.com/h"},
    ("post", "/jobs/executions/{exec_id}/cancel"): {"reason": "fuzz"},
    ("post", "/jobs/executions/cancelled"): {"ids": [1]},
    ("post", "/jobs/executions/{exec_id}/log"): {"lines": [{"text": "x", "at": 1}]},
    ("post", "/jobs/executions/complete/{exec_id}"): {"success": True},
    ("post", "/jobs/executions/complete"): {"results": [{"id": 1, "success": True}]},
    ("post", "/apikeys"): {"environment_id": 1, "name": "fuzz"},
    ("post", "/org/environments"): {"name": "fuzz-env"},
    ("post", "/org/environments/{env_id}/webhook-secret/rotate"): {"overlap_seconds": 60},
    ("post", "/org/emails"): "fuzz@example.com",
    ("delete", "/org/emails"): "fuzz@example.com",
    ("post", "/org/channels"): {"name": "fuzz", "kind": "slack", "url": "https://example.com/s"},
    ("put", "/org/channels/{channel_id}"): {"name": "fuzz", "kind": "slack",
                                            "url": "https://example.com/s"},
    ("post", "/jobs/{job_id}/backfill"): {"from": "2020-01-01T00:00:00Z",
                                          "to": "2020-01-01T01:00:00Z"},
}
# nested objects whose fields are fuzzed too: (route, list field)
NESTED = {("post", "/jobs/executions/{exec_id}/log"): "lines",
          ("post", "/jobs/executions/complete"): "results"}
ENDLESS = {("get", "/jobs/executions/sse")}  # a stream: its own e2e tests
SAFE_QUERY = {"wait": "0", "follow": "false"}  # a long poll or a stream must not wait here


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # no abuse limits: a 429 would hide what the fuzzed values do
    return {"rate_limit_per_second": 0, "auth_failure_limit": 0}


class Fuzz:
    """Sends requests and collects what went wrong. Inside ``group()`` the refused writes are
    checked to have changed nothing: the state after the group is the state before when
    nothing in it was accepted; else the refused requests are sent again, alone, and must
    leave the state as it was."""

    def __init__(self, api: Api, ids: dict[str, str]) -> None:
        self.api, self.ids = api, ids
        self.sent = 0
        self.failures: list[tuple[Any, ...]] = []
        self.refused: list[tuple[str, str, bytes | None, dict[str, Any], str]] | None = None
        self.accepted = False

    async def _request(self, method: str, path: str, content: bytes | None,
                       headers: dict[str, Any]) -> Any:
        h: dict[str, Any] = {**self.api.admin, **headers}
        if content is not None:
            h["content-type"] = "application/json"
        self.sent += 1
        return await self.api.client.request(method.upper(), path, content=content, headers=h)

    async def send(self, method: str, path: str, *, content: bytes | None = None,
                   headers: dict[str, Any] | None = None, what: str = "") -> int:
        r = await self._request(method, path, content, headers or {})
        where = (method, path, what, (content or b"")[:120])
        if r.status_code >= 500:
            self.failures.append((*where, r.status_code, r.text))
        elif r.status_code >= 400:
            if not (r.headers["content-type"].startswith("application/json")
                    and r.json().get("message")):
                self.failures.append((*where, r.status_code, r.text))
            if method != "get" and self.refused is not None:
                self.refused.append((method, path, content, headers or {}, what))
        elif method != "get":
            self.accepted = True
        return r.status_code

    @asynccontextmanager
    async def group(self) -> AsyncIterator[None]:
        before = await _snapshot(self.api)
        self.refused, self.accepted = [], False
        yield
        refused, self.refused = self.refused, None
        if not refused:
            return
        if not self.accepted:
            if await _snapshot(self.api) != before:
                self.failures.append(("a refused write changed something", refused[:3]))
            return
        # something was accepted: send the refused ones again, alone
        before = await _snapshot(self.api)
        for method, path, content, headers, _ in refused:
            await self._request(method, path, content, headers)
        if await _snapshot(self.api) != before:
            self.failures.append(("a refused write changed something", refused[:3]))

    def check(self) -> None:
        assert not self.failures, "\n".join(map(repr, self.failures[:40]))


def _fill(path: str, ids: dict[str, str], override: dict[str, str] | None = None) -> str:
    values = {**ids, **(override or {})}
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def _query(params: list[dict[str, Any]], override: dict[str, str] | None = None) -> str:
    q = dict(SAFE_QUERY)
    q.update(override or {})
    names = {p["name"] for p in params if p["in"] == "query"}
    pairs = [f"{k}={v}" for k, v in q.items() if k in names]
    return "?" + "&".join(pairs) if pairs else ""


def _raw(value: Any) -> str:
    return json.dumps(value)


def _body_fields(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, bool]:
    """The fields of an operation's JSON body in the schema: name -> is a list of scalars."""
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = schema.get("schema", {})
    for option in schema.get("anyOf", [schema]):
        ref = option.get("$ref")
        if ref is not None:
            props = spec["components"]["schemas"][ref.rsplit("/", 1)[1]].get("properties", {})
            return {name: _scalar_list(prop) for name, prop in props.items()}
    return {}


def _scalar_list(prop: dict[str, Any]) -> bool:
    return any(o.get("type") == "array" and "$ref" not in o.get("items", {})
               for o in prop.get("anyOf", [prop]))


def _bodies(route: tuple[str, str], schema: dict[str, bool]) -> list[tuple[str, str]]:
    """(what, raw JSON) for each hostile value in each field of the route's body (the base
    body's and the schema's), and as the whole body."""
    base = BASE_BODIES[route]
    out = [("whole body", v) for v in JSON_VALUES]
    if not isinstance(base, dict):
        return out
    lists = {k for k, v in base.items() if isinstance(v, list) and not isinstance(v[0], dict)}
    lists |= {k for k, is_list in schema.items() if is_list}
    for field in [*base, *(f for f in schema if f not in base)]:
        # a list of scalars also gets each value as its element
        values = JSON_VALUES + ([f"[{v}]" for v in JSON_VALUES] if field in lists else [])
        for v in values:
            fields = {k: _raw(x) for k, x in base.items()}
            fields[field] = v
            out.append((field, "{" + ", ".join(f'"{k}": {x}' for k, x in fields.items()) + "}"))
    nested = NESTED.get(route)
    if nested is not None:
        item = base[nested][0]
        for field in item:
            for v in JSON_VALUES:
                fields = {k: _raw(x) for k, x in item.items()}
                fields[field] = v
                inner = "{" + ", ".join(f'"{k}": {x}' for k, x in fields.items()) + "}"
                out.append((f"{nested}.{field}", "{" + f'"{nested}": [{inner}]' + "}"))
    return out


async def _things(api: Api) -> dict[str, str]:
    job = await api.define(name="fuzz-job", schedule="0 0 1 1 *")
    run = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    key = (await api.client.post("/apikeys", json={"environment_id": 1, "name": "k"},
                                 headers=api.admin)).json()
    env = (await api.client.post("/org/environments", json={"name": "fuzz-env-0"},
                                 headers=api.admin)).json()
    ch = (await api.client.post("/org/channels", json={"name": "c", "kind": "slack",
                                                       "url": "https://example.com/c"},
                                headers=api.admin)).json()
    return {"job_id": str(job["id"]), "exec_id": str(run["id"]), "key_id": str(key["id"]),
            "env_id": str(env["id"]), "channel_id": str(ch["id"])}


def _operations(
    spec: dict[str, Any],
) -> list[tuple[str, str, list[dict[str, Any]], dict[str, bool]]]:
    return [(m, path, op.get("parameters", []), _body_fields(spec, op))
            for path, ops in spec["paths"].items() for m, op in ops.items()
            if (m, path) not in ENDLESS and path != "/metrics"]


async def _fuzz_parameter(fuzz: Fuzz, method: str, path: str, params: list[dict[str, Any]],
                          p: dict[str, Any], content: bytes | None) -> None:
    ids = fuzz.ids
    if p["in"] == "header":
        for h in HEADER_VALUES:
            await fuzz.send(method, _fill(path, ids) + _query(params), content=content,
                            headers={p["name"]: h}, what=f"{p['name']}={h[:10]!r}")
        return
    for v in URL_VALUES:
        if p["name"] == "follow" and v == "true":
            continue  # a stream that ends only with its run
        if p["in"] == "path":
            if v in ("", ids[p["name"]]):
                continue
            url = _fill(path, ids, {p["name"]: v}) + _query(params)
        else:
            url = _fill(path, ids) + _query(params, {p["name"]: v})
        await fuzz.send(method, url, content=content, what=f"{p['name']}={v}")


async def _fuzz_operation(fuzz: Fuzz, method: str, path: str, params: list[dict[str, Any]],
                          schema: dict[str, bool]) -> None:
    base = BASE_BODIES.get((method, path))
    content = None if base is None else json.dumps(base).encode()
    for p in params:
        async with fuzz.group():
            await _fuzz_parameter(fuzz, method, path, params, p, content)
    if base is None:
        return
    by_field: dict[str, list[str]] = {}
    for what, raw in _bodies((method, path), schema):
        by_field.setdefault(what, []).append(raw)
    for what, raws in by_field.items():
        async with fuzz.group():
            for raw in raws:
                await fuzz.send(method, _fill(path, fuzz.ids) + _query(params),
                                content=raw.encode("utf-8", "surrogatepass"), what=what)


async def test_every_route_with_hostile_parameters_and_bodies_never_5xx(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    fuzz = Fuzz(api, await _things(api))
    body_routes = {(m, p) for p, o in spec["paths"].items() for m in o
                   if "requestBody" in o[m]}
    assert body_routes <= set(BASE_BODIES), body_routes - set(BASE_BODIES)
    ops = _operations(spec)
    # the routes that delete or revoke the things named by the ids go last
    ops.sort(key=lambda op: op[0] == "delete" and "{" in op[1])
    seen: set[frozenset[str]] = set()
    for method, path, params, schema in ops:
        # a body model shared by two routes (/jobs/definition and …/internal): the fields
        # beyond the base body once
        fields = frozenset(schema)
        await _fuzz_operation(fuzz, method, path, params, {} if fields in seen else schema)
        seen.add(fields)
    fuzz.check()
    assert fuzz.sent > 1500, fuzz.sent


PING_SEGMENTS = ["%C2%B2", "%D9%A3", "%00", "a%00b", "%ED%A0%80", "%FF", "%7F", "x" * 300,
                 "00000000-0000-0000-0000-00000000000%00", "2147483648", "9223372036854775808"]


async def test_ping_urls_with_hostile_segments_are_404_never_5xx(api: Api) -> None:
    job = await api.define(name="beat-job", type="heartbeat", schedule="*/5 * * * *",
                           grace_seconds=60)
    detail = (await api.client.get(f"/jobs/{job['id']}", headers=api.admin)).json()
    uuid = job["ping_uuid"]
    key = detail["ping"]["slug_url"].split("/ping/", 1)[1].split("/")[0]
    fuzz = Fuzz(api, {})
    for method in ("get", "post"):
        for v in PING_SEGMENTS:
            for path in (f"/ping/{v}", f"/ping/{uuid}/{v}", f"/ping/{key}/{v}",
                         f"/ping/{v}/beat-job", f"/ping/{key}/beat-job/{v}",
                         f"/ping/{uuid}?rid={v}"):
                status = await fuzz.send(method, path, what=path)
                if status not in (400, 404):
                    fuzz.failures.append((path, status))
    fuzz.check()


async def test_a_key_with_a_control_character_is_a_401_never_looked_up(api: Api) -> None:
    """On PostgreSQL a NUL in ``x-api-key`` reached the key lookup (503); such a key cannot
    be one this server issued: 401 like any unknown key, on every database (the dashboard's
    sign-in form: test_fuzz_dashboard.py)."""
    for key in (b"sk_\x00" + b"a" * 20, ADMIN_KEY.encode() + b"\x00", b"sk_\x1b" + b"a" * 20,
                b"sk_" + b"a" * 20 + b"\x7f"):
        r = await api.client.get("/jobs", headers={"x-api-key": key})
        assert r.status_code == 401, (key, r.text)
        assert r.json()["message"] == "x-api-key: unknown or revoked API key"
