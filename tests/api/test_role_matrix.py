"""Every route of ``/openapi.json`` by every key scope (= every role): allowed, or 403 naming
the permission it needs and changing nothing (issue 22). A foreign environment's id answers
exactly like a missing one for every scope. The table below is written out by hand (not read
from ``domain/permissions.py``): the code must agree with it, and a new route without a row
fails ``test_every_route_has_a_row``."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute

from schedo.server.app import API_ROUTERS
from schedo.server.domain.permissions import Action
from schedo.server.services import keys
from tests.conftest import Api

MISSING = 987654
A = Action
PUBLIC = {("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics")}
JOB = {"name": "matrix-{grant}", "schedule": "*/5 * * * *"}
CHANNEL = {"name": "chat-{grant}", "kind": "slack", "url": "https://example.com/c"}
# (method, path) -> (action, JSON body or None, query)
ROUTES: dict[tuple[str, str], tuple[Action, Any, dict[str, str]]] = {
    ("get", "/jobs/executions"): (A.PULL, None, {"jobs": "matrix", "wait": "0"}),
    # an invalid type is a 400 after the permission check, before the stream starts
    ("get", "/jobs/executions/sse"): (A.PULL, None, {"jobs": "matrix", "type": "bogus"}),
    ("post", "/jobs/executions/{exec_id}/cancel"): (A.OPERATE, None, {}),
    ("post", "/jobs/executions/cancelled"): (A.WATCH_CANCEL, {"ids": [MISSING]}, {}),
    ("post", "/jobs/executions/{exec_id}/log"): (A.WRITE_LOG, {"lines": [{"text": "x"}]}, {}),
    ("get", "/jobs/executions/{exec_id}/log"): (A.VIEW, None, {}),
    ("get", "/jobs/executions/{job_id}"): (A.VIEW, None, {}),
    ("post", "/jobs/executions/complete/{exec_id}"): (A.REPORT, {"success": True}, {}),
    ("post", "/jobs/executions/complete"): (A.REPORT, {"results": [
        {"id": MISSING, "success": True}]}, {}),
    ("post", "/jobs/definition"): (A.DEFINE, JOB, {}),
    ("post", "/jobs/definition/internal"): (A.DEFINE, JOB, {}),
    ("get", "/jobs"): (A.VIEW_JOBS, None, {}),
    ("get", "/jobs/list"): (A.VIEW_JOBS, None, {}),
    ("patch", "/jobs/mute/{job_id}"): (A.OPERATE, {"muted": True}, {}),
    ("patch", "/jobs/pause/{job_id}"): (A.OPERATE, None, {}),
    ("patch", "/jobs/skip/{job_id}"): (A.OPERATE, {"count": 1}, {}),
    ("patch", "/jobs/resume/{job_id}"): (A.OPERATE, None, {}),
    ("post", "/jobs/trigger/{job_id}"): (A.OPERATE, None, {}),
    ("patch", "/jobs/webhook/{job_id}"): (A.EDIT, {"webhook_url": "https://example.com/h"}, {}),
    ("get", "/jobs/{job_id}/connections/count"): (A.VIEW_JOBS, None, {}),
    ("get", "/jobs/{job_id}/explain"): (A.VIEW_JOBS, None, {}),
    ("get", "/jobs/{job_id}"): (A.VIEW_JOBS, None, {}),
    ("delete", "/jobs/{job_id}"): (A.EDIT, None, {}),
    ("post", "/apikeys"): (A.ADMIN, {"environment_id": 1, "name": "k-{grant}",
                                     "scope": "read"}, {}),
    ("get", "/apikeys"): (A.VIEW, None, {}),
    ("delete", "/apikeys/revoke/{key_id}"): (A.ADMIN, None, {}),
    ("post", "/org/environments"): (A.ADMIN, {"name": "env-{grant}"}, {}),
    ("get", "/org/environments"): (A.ADMIN, None, {}),
    ("delete", "/org/environments/{env_id}"): (A.ADMIN, None, {}),
    ("get", "/org/environments/{env_id}/webhook-secret"): (A.ADMIN, None, {}),
    ("post", "/org/environments/{env_id}/webhook-secret/rotate"): (A.ADMIN, None, {}),
    ("get", "/org"): (A.VIEW, None, {}),
    ("get", "/org/emails"): (A.VIEW, None, {}),
    ("post", "/org/emails"): (A.ADMIN, "{grant}@example.com", {}),
    ("delete", "/org/emails"): (A.ADMIN, "{grant}@example.com", {}),
    ("get", "/org/notifications"): (A.VIEW, None, {}),
    ("get", "/org/channels"): (A.VIEW, None, {}),
    ("post", "/org/channels"): (A.EDIT, CHANNEL, {}),
    ("get", "/org/channels/{channel_id}"): (A.VIEW, None, {}),
    ("put", "/org/channels/{channel_id}"): (A.EDIT, CHANNEL, {}),
    ("delete", "/org/channels/{channel_id}"): (A.EDIT, None, {}),
    ("post", "/jobs/{job_id}/backfill"): (A.OPERATE, {"from": "2020-01-01T00:00:00Z",
                                                      "to": "2020-01-01T01:00:00Z"}, {}),
    ("post", "/jobs/executions/{exec_id}/rerun"): (A.OPERATE, None, {}),
    ("get", "/jobs/{job_id}/chain"): (A.VIEW_JOBS, None, {}),
    ("get", "/jobs/executions/{exec_id}/chain"): (A.VIEW, None, {}),
    ("get", "/audit"): (A.VIEW, None, {}),
}
EVERYTHING = set(Action)
# what each scope may do, by hand (docs/api.md "Key scopes and roles")
PERMITS: dict[str, set[Action]] = {
    "admin-key": EVERYTHING,
    "full": EVERYTHING,
    "editor": {A.VIEW_JOBS, A.VIEW, A.OPERATE, A.DEFINE, A.EDIT},
    "operator": {A.VIEW_JOBS, A.VIEW, A.OPERATE},
    "read": {A.VIEW_JOBS, A.VIEW},
    "worker": {A.VIEW_JOBS, A.DEFINE, A.PULL, A.REPORT, A.WRITE_LOG, A.WATCH_CANCEL},
}
# organisation-wide: an environment key is refused (403) even with scope full
ORG_WIDE = {("post", "/org/environments"), ("get", "/org/environments"),
            ("delete", "/org/environments/{env_id}"), ("post", "/org/emails"),
            ("delete", "/org/emails"), ("get", "/org/environments/{env_id}/webhook-secret"),
            ("post", "/org/environments/{env_id}/webhook-secret/rotate")}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m, p) for p, ops in spec["paths"].items() for m in ops]


async def test_every_route_has_a_row(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    missing = [r for r in _operations(spec) if r not in ROUTES and r not in PUBLIC]
    assert not missing, f"add a row for {missing}"


def test_every_route_declares_the_action_of_the_table() -> None:
    declared: dict[tuple[str, str], set[Action]] = {}
    for route in (r for router in API_ROUTERS for r in router.routes):
        assert isinstance(route, APIRoute)
        actions = {d.call.action for d in route.dependant.dependencies  # type: ignore[union-attr]
                   if hasattr(d.call, "action")}
        for method in route.methods:
            declared[(method.lower(), route.path)] = actions
    for op, (action, _, _) in ROUTES.items():
        assert declared[op] == {action}, op


async def _grants(api: Api) -> dict[str, dict[str, str]]:
    out = {"admin-key": api.admin}
    for scope in ("full", "editor", "operator", "read", "worker"):
        r = await api.client.post("/apikeys", headers=api.admin, json={
            "environment_id": 1, "name": f"{scope}-key", "scope": scope})
        assert r.status_code == 200 and r.json()["scope"] == scope, r.text
        out[scope] = {"x-api-key": r.json()["key"]}
    return out


async def _foreign_ids(api: Api) -> dict[str, int]:
    """Objects no caller of environment 1 may reach: a job, its run and a channel of
    environment 2, and a key and an environment of another organisation."""
    c, h = api.client, api.admin
    env2 = (await c.post("/org/environments", json={"name": "other"}, headers=h)).json()
    h2 = {**h, "X-API-ENVIRONMENT": str(env2["id"])}
    job = await api.define(headers=h2, name="foreign-job")
    run = (await c.post(f"/jobs/trigger/{job['id']}", headers=h2)).json()
    chan = (await c.post("/org/channels", headers=h2, json={
        "name": "foreign", "kind": "slack", "url": "https://example.com/f"})).json()
    store, now = api.svc.store, api.clock.now()
    org = await store.create_org("Other org", now)
    env = await store.create_environment(org.id, "theirs", keys.new_secret(), now)
    secret = keys.new_key()
    key = await store.create_key(
        org_id=org.id, env_id=env.id, name="theirs", prefix=keys.lookup_prefix(secret),
        digest=keys.digest(api.svc.pepper, secret), admin=False, internal=False, now=now)
    return {"job_id": job["id"], "exec_id": run["id"], "channel_id": chan["id"],
            "key_id": key.id, "env_id": env.id}


def _fill(value: Any, grant: str) -> Any:
    if isinstance(value, str):
        return value.replace("{grant}", grant)
    if isinstance(value, dict):
        return {k: _fill(v, grant) for k, v in value.items()}
    return value


async def _call(api: Api, op: tuple[str, str], grant: str, headers: dict[str, str],
                ident: int | None) -> Any:
    method, path = op
    _, body, query = ROUTES[op]
    name = re.search(r"{(\w+)}", path)
    if name is not None:
        path = path.replace(name.group(0), str(ident))
    kw: dict[str, Any] = {"headers": headers, "params": query}
    if body is not None:
        kw["json"] = _fill(body, grant)
    return await api.client.request(method.upper(), path, **kw)


async def _snapshot(api: Api) -> Any:
    c, h = api.client, api.admin
    jobs = (await c.get("/jobs", headers=h)).json()
    execs = [(await c.get(f"/jobs/executions/{j['id']}", headers=h)).json() for j in jobs]
    out = [jobs, execs]
    for path in ("/apikeys", "/org/environments", "/org/channels", "/org/emails", "/audit"):
        out.append((await c.get(path, headers=h)).json())
    return out


def _refused(op: tuple[str, str], grant: str) -> bool:
    return ROUTES[op][0] not in PERMITS[grant]


async def test_refusals_are_403_naming_the_permission_and_change_nothing(api: Api) -> None:
    grants = await _grants(api)
    await api.define(name="matrix")
    before = await _snapshot(api)
    count = 0
    for op in ROUTES:
        for grant, headers in grants.items():
            if not _refused(op, grant):
                continue
            r = await _call(api, op, grant, headers, MISSING)
            assert r.status_code == 403, (op, grant, r.status_code, r.text)
            message = r.json()["message"]
            assert message.startswith("permission denied: " + ROUTES[op][0].value), message
            assert "needs" in message and repr(grant) in message, message
            count += 1
    assert count > 80  # the table really refuses something for every narrower scope
    assert await _snapshot(api) == before


async def test_allowed_calls_pass_the_permission_check(api: Api) -> None:
    grants = await _grants(api)
    await api.define(name="matrix")
    for op in ROUTES:
        for grant, headers in grants.items():
            if _refused(op, grant):
                continue
            r = await _call(api, op, grant, headers, MISSING)
            assert r.status_code != 401, (op, grant, r.text)
            if r.status_code == 403:  # only the organisation-wide routes, for env keys
                assert op in ORG_WIDE and grant != "admin-key", (op, grant, r.text)
                assert "permission denied" not in r.text
            elif "{" in op[1]:
                assert r.status_code == 404, (op, grant, r.status_code, r.text)
            else:
                assert r.status_code < 500, (op, grant, r.text)


async def test_a_foreign_id_answers_like_a_missing_one_for_every_scope(api: Api) -> None:
    grants = await _grants(api)
    ids = await _foreign_ids(api)
    before = await _snapshot(api)
    for op in ROUTES:
        name = re.search(r"{(\w+)}", op[1])
        if name is None:
            continue
        ident = ids[name.group(1)]
        for grant, headers in grants.items():
            real = await _call(api, op, grant, headers, ident)
            gone = await _call(api, op, grant, headers, MISSING)
            assert real.status_code in (403, 404), (op, grant, real.status_code, real.text)
            assert real.status_code == gone.status_code, (op, grant)
            assert (real.text.replace(str(ident), "ID")
                    == gone.text.replace(str(MISSING), "ID")), (op, grant)
    assert await _snapshot(api) == before


async def test_a_bad_scope_is_a_400_and_creates_no_key(api: Api) -> None:
    before = (await api.client.get("/apikeys", headers=api.admin)).json()
    for scope in ("admin", "FULL", "", "read,worker", 3, None):
        body = {"environment_id": 1, "name": "bad", "scope": scope}
        r = await api.client.post("/apikeys", headers=api.admin, json=body)
        if scope in ("", None):  # absent or empty: the default, full
            assert r.status_code == 200 and r.json()["scope"] == "full", r.text
            await api.client.delete(f"/apikeys/revoke/{r.json()['id']}", headers=api.admin)
            continue
        assert r.status_code in (400, 422), (scope, r.text)
        assert "scope" in r.text
    after = [k for k in (await api.client.get("/apikeys", headers=api.admin)).json()
             if not k["revoked"]]
    assert after == [k for k in before if not k["revoked"]]
    # the hosted client's shape (no scope) still makes a full key
    r = await api.client.post("/apikeys", headers=api.admin,
                              json={"environment_id": 1, "name": "plain"})
    assert r.status_code == 200 and r.json()["scope"] == "full"
