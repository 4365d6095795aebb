"""Dead ids (issue 23, points 1 and 5): every route that takes an id, given the id of a job, run,
key, channel or environment that was deleted and re-created under the same name, answers
exactly as it answers an id that never existed (404, the same message but for the number), and
leaves the re-created rows untouched. Old dashboard and mail links (``/ui/jobs/27/runs/…``)
open nothing. SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api.test_isolation import BODIES, _id_routes
from tests.conftest import ADMIN_KEY, Api

NEVER = 987_654_321  # an id no table ever gave
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class World:
    """The re-created things (alive) and the ids of their deleted namesakes (dead)."""

    dead: dict[str, int]
    alive: dict[str, int]
    env_key: dict[str, str]  # a key of the re-created environment


async def _ok(r: Awaitable[httpx.Response]) -> Any:
    got = await r
    assert got.status_code == 200, got.text
    return got.json()


async def _generation(api: Api, tag: str) -> dict[str, Any]:
    """An environment with a key, a job with a run (claimed, with output) and a channel;
    a job with a run and a channel in environment 1; all named alike in every generation."""
    c, admin = api.client, api.admin
    env = await _ok(c.post("/org/environments", json={"name": "churned"}, headers=admin))
    made = await _ok(c.post("/apikeys", json={"environment_id": env["id"], "name": "k"},
                            headers=admin))
    key = {"x-api-key": made["key"]}
    out: dict[str, Any] = {"env": env["id"], "env_key_id": made["id"], "key": key}
    for where, headers in (("env", key), ("main", admin)):
        job = await api.define(headers=headers, name="reborn", schedule="0 0 1 1 *")
        await _ok(c.post(f"/jobs/trigger/{job['id']}", headers=headers))
        [run] = await _ok(c.get("/jobs/executions?jobs=reborn&wait=0", headers=headers))
        await _ok(c.post(f"/jobs/executions/{run['id']}/log",
                         json={"lines": [{"text": f"{tag} output"}]}, headers=headers))
        channel = await _ok(c.post("/org/channels", json={
            "name": "ops", "kind": "webhook", "url": "https://example.com/hook"},
            headers=headers))
        out[f"{where}_job"], out[f"{where}_run"] = job["id"], run["id"]
        out[f"{where}_channel"] = channel["id"]
    return out


async def _world(api: Api) -> World:
    old = await _generation(api, "old")
    c, admin = api.client, api.admin
    # delete: the main job and channel one by one, the environment with everything in it
    assert (await c.delete(f"/jobs/{old['main_job']}", headers=admin)).status_code == 200
    await _ok(c.delete(f"/org/channels/{old['main_channel']}", headers=admin))
    await _ok(c.delete(f"/org/environments/{old['env']}", headers=admin))
    new = await _generation(api, "new")
    dead = {k: v for k, v in old.items() if k != "key"}
    alive = {k: v for k, v in new.items() if k != "key"}
    for k in dead:
        assert alive[k] > dead[k], f"{k}: an id was given again"
    return World(dead=dead, alive=alive, env_key=new["key"])


# which dead id each path parameter takes ("main_"/"env_" prefixed where it has a scope)
SCOPED = {"job_id": "job", "exec_id": "run", "channel_id": "channel"}
ORG_WIDE = {"key_id": "env_key_id", "env_id": "env"}


def _routes(spec: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(method, path with {id}, which dead id, json body) of every API route taking an id,
    from the OpenAPI schema (bodies: the isolation suite's, which has one for every route;
    the follow stream added)."""
    out: list[tuple[str, str, str, Any]] = []
    for method, path in _id_routes(spec):
        name = re.search(r"{(\w+)}", path).group(1)  # type: ignore[union-attr]
        assert name in SCOPED or name in ORG_WIDE, f"a new kind of id: {name} ({path})"
        template, body = path.replace(f"{{{name}}}", "{id}"), BODIES[(method, path)]
        if name in ORG_WIDE:
            out.append((method.upper(), template, ORG_WIDE[name], body))
            continue
        for where in ("main", "env"):
            out.append((method.upper(), template, f"{where}_{SCOPED[name]}", body))
            if (method, path) == ("get", "/jobs/executions/{exec_id}/log"):
                out.append(("GET", template + "?follow=1", f"{where}_run", None))
    return out


def _masked(text: str, i: int) -> str:
    """``text`` with the id ``i`` (a word after a space or a slash) masked."""
    return re.sub(rf"(?<=[ /]){i}\b", "<id>", text)


def _same(a: httpx.Response, b: httpx.Response, dead: int) -> tuple[int, str]:
    text = _masked(a.text, dead)
    # (the other id of a URL may be the same number as the dead one: masked alike in both)
    assert _masked(_masked(b.text, NEVER), dead) == text, (a.text, b.text)
    assert a.status_code == b.status_code, (a.status_code, b.status_code)
    return a.status_code, text


async def _snapshot(api: Api, w: World) -> list[Any]:
    c, a, k = api.client, api.admin, w.env_key
    got = []
    for path, headers in (
        (f"/jobs/{w.alive['main_job']}", a), (f"/jobs/executions/{w.alive['main_job']}", a),
        (f"/jobs/{w.alive['env_job']}", k), (f"/jobs/executions/{w.alive['env_job']}", k),
        (f"/jobs/executions/{w.alive['main_run']}/log", a),
        (f"/jobs/executions/{w.alive['env_run']}/log", k),
        (f"/org/channels/{w.alive['main_channel']}", a),
        (f"/org/channels/{w.alive['env_channel']}", k),
        ("/org/environments", a), ("/apikeys", a), ("/apikeys", k),
        ("/org/notifications", a),
    ):
        r = await c.get(path, headers=headers)
        got.append((path, r.status_code, r.json()))
    return got


async def test_every_api_route_answers_a_dead_id_as_a_never_given_one(api: Api) -> None:
    w = await _world(api)
    before = await _snapshot(api, w)
    # an environment key of the re-created environment, and the admin key: the dead ids of
    # environment-scoped things are tried with both
    spec = (await api.client.get("/openapi.json")).json()
    for method, template, which, body in _routes(spec):
        for who, headers in (("admin", api.admin), ("env key", w.env_key)):
            # an organisation admin's route (deleting an environment, its signing secret):
            # an environment key gets 403 for any id, dead or never given alike
            admin_only = (which in ("env_key_id", "env") and who == "env key"
                          and "environments" in template)
            dead = w.dead[which]
            kw: dict[str, Any] = {"headers": headers}
            if body is not None:
                kw["json"] = body
            a = await api.client.request(method, template.format(id=dead), **kw)
            b = await api.client.request(method, template.format(id=NEVER), **kw)
            status, _ = _same(a, b, dead)
            want = 403 if admin_only else 404
            assert status == want, f"{method} {template} ({which}, {who}): {status} {a.text}"
    # the dead environment, named in X-API-ENVIRONMENT or as a new key's environment
    for path in ("/jobs", "/org/channels"):
        a = await api.client.get(path, headers={**api.admin,
                                                "X-API-ENVIRONMENT": str(w.dead["env"])})
        b = await api.client.get(path, headers={**api.admin, "X-API-ENVIRONMENT": str(NEVER)})
        assert _same(a, b, w.dead["env"])[0] == 404
    a = await api.client.post("/apikeys", json={"environment_id": w.dead["env"], "name": "x"},
                              headers=api.admin)
    b = await api.client.post("/apikeys", json={"environment_id": NEVER, "name": "x"},
                              headers=api.admin)
    assert _same(a, b, w.dead["env"])[0] == 404
    assert await _snapshot(api, w) == before  # nothing of the re-created things moved


async def _browser(api: Api) -> httpx.AsyncClient:
    b = httpx.AsyncClient(transport=api.client._transport, base_url="http://schedo.test")
    token = CSRF.search((await b.get("/ui/login")).text)
    assert token
    r = await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1)})
    assert r.status_code in (200, 303), r.text
    return b


async def test_old_dashboard_and_mail_links_open_nothing(api: Api) -> None:
    """``/ui/jobs/{dead}`` and ``/ui/jobs/{dead}/runs/{dead}`` (and every mix with a live id)
    are 404 like never-given ids, for GETs and for the page forms (with a valid CSRF token);
    the re-created job and run open as before and are not changed."""
    w = await _world(api)
    before = await _snapshot(api, w)
    d, a = w.dead, w.alive
    b = await _browser(api)
    try:
        csrf = CSRF.search((await b.get("/ui/settings")).text)
        assert csrf
        token = {"csrf": csrf.group(1)}
        for where in ("main", "env"):
            dj, dr = d[f"{where}_job"], d[f"{where}_run"]
            lj, lr = a[f"{where}_job"], a[f"{where}_run"]
            # (method, url with {i} where the dead or never-given id goes, the dead id)
            pages = [
                ("GET", "/ui/jobs/{i}", dj),
                ("GET", "/ui/jobs/{i}/live", dj),
                ("GET", "/ui/jobs/{i}/explain?at=2026-01-01T00:00:00Z", dj),
                ("GET", f"/ui/jobs/{{i}}/runs/{dr}", dj),
                ("GET", f"/ui/jobs/{{i}}/runs/{lr}", dj),
                ("GET", f"/ui/jobs/{dj}/runs/{{i}}", dr),
                ("GET", f"/ui/jobs/{lj}/runs/{{i}}", dr),
                ("GET", f"/ui/jobs/{dj}/runs/{{i}}/live", dr),
                ("GET", f"/ui/jobs/{lj}/runs/{{i}}/live", dr),
                ("POST", f"/ui/jobs/{{i}}/runs/{dr}/cancel", dj),
                ("POST", f"/ui/jobs/{lj}/runs/{{i}}/cancel", dr),
            ] + [("POST", f"/ui/jobs/{{i}}/{act}", dj)
                 for act in ("trigger", "pause", "resume", "mute", "unmute", "delete")]
            for method, url, dead in pages:
                kw = {"data": token} if method == "POST" else {}
                x = await b.request(method, url.format(i=dead), **kw)
                y = await b.request(method, url.format(i=NEVER), **kw)
                status, _ = _same(x, y, dead)
                assert status == 404, f"{method} {url.format(i=dead)}: {status}"
        for j, r in (("main_job", "main_run"), ("env_job", "env_run")):
            page = await b.get(f"/ui/jobs/{a[j]}/runs/{a[r]}")
            assert page.status_code == 200 and "new output" in page.text
            assert "old output" not in page.text
    finally:
        await b.aclose()
    assert await _snapshot(api, w) == before
