"""Hostile JSON and dead ids against every body and every id route (issues 23 and 24).

Property tests on the in-process app with a real database (SQLite, and PostgreSQL when
``SCHEDO_TEST_POSTGRES_URL`` is set):

- bodies built from nesting depth, duplicate keys, lone surrogates, NUL characters and other
  odd text, put into every field of every JSON route: never a 5xx; a 4xx changes nothing; a
  2xx stores something every later read can serve (the job list, the history, the
  notifications and the dashboard's data keep answering 200);
- every id route called with the id of a thing that was deleted (and a new thing made after
  it): the answer is exactly that of an id that never existed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_isolation import BODIES, MISSING, _id_routes, _snapshot
from tests.conftest import Api

ODD_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "a\\u0000b", "\\ud83d\\ude00",
                     "\\ud83d", "\\u202e", "\\uffff", "\\\\", '\\"', "%s", "{}", "[]"]),
)


def _string(draw_text: str) -> str:
    """A JSON string literal holding ``draw_text`` (escapes kept as JSON escapes)."""
    if "\\" in draw_text and re.fullmatch(r'(\\u[0-9a-f]{4}|\\\\|\\"|[^\\"])*', draw_text):
        return f'"{draw_text}"'
    return json.dumps(draw_text)


@st.composite
def hostile_value(draw: st.DrawFn) -> str:
    """Raw JSON text of a hostile value: deep nesting, duplicate keys, odd strings."""
    kind = draw(st.sampled_from(["deep-object", "deep-array", "dupes", "text", "number"]))
    if kind == "deep-object":
        depth = draw(st.integers(1, 300))
        return '{"k":' * depth + _string(draw(ODD_TEXT)) + "}" * depth
    if kind == "deep-array":
        depth = draw(st.integers(1, 300))
        return "[" * depth + "]" * depth
    if kind == "dupes":
        k = _string(draw(ODD_TEXT))
        return "{" + f"{k}: 1, {k}: {_string(draw(ODD_TEXT))}" + "}"
    if kind == "number":
        return str(draw(st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**63, 10**400, 1.5])))
    return _string(draw(ODD_TEXT))


DEFINE = {"name": '"hostile-job"', "schedule": '"*/5 * * * *"'}
# route -> a valid body's fields as raw JSON (the fuzzer replaces one of them)
ROUTES: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/jobs/definition"): {"metadata": "{}", **DEFINE, "command": '"echo hi"'},
    ("POST", "/jobs/definition/internal"): {**DEFINE, "timezone": '"UTC"',
                                            "catch_up": '"latest"'},
    ("PATCH", "/jobs/mute/{job}"): {"muted": "true"},
    ("PATCH", "/jobs/webhook/{job}"): {"webhook_url": '"https://example.com/h"'},
    ("POST", "/jobs/executions/complete/{run}"): {"success": "true", "output": '"ok"',
                                                  "error": "null"},
    ("POST", "/jobs/executions/complete"): {"results": '[{"id": {run}, "success": true}]'},
    ("POST", "/org/environments"): {"name": '"staging"'},
    ("POST", "/apikeys"): {"environment_id": "1", "name": '"ci"'},
}


async def _reads_still_work(api: Api, job_id: int) -> None:
    for path in ("/jobs", "/jobs/list", f"/jobs/{job_id}", f"/jobs/executions/{job_id}",
                 "/org/notifications", "/apikeys", "/org/environments", "/org"):
        r = await api.client.get(path, headers=api.admin)
        assert r.status_code == 200, (path, r.text)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(route=st.sampled_from(sorted(ROUTES)), field=st.integers(0, 10), value=hostile_value(),
       replace_whole=st.integers(0, 5))
async def test_hostile_bodies_never_500_and_4xx_changes_nothing(
    api: Api, route: tuple[str, str], field: int, value: str, replace_whole: int
) -> None:
    job = await api.define(name="target-job")
    run = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    method, path = route
    fields = dict(ROUTES[route])
    names = list(fields)
    name = names[field % len(names)]
    # metadata takes any JSON value under a key; the others the value itself
    fields[name] = '{"x": ' + value + "}" if name == "metadata" else value
    if replace_whole == 0:
        raw = value  # the whole body is the hostile value
    else:
        raw = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
    raw = raw.replace("{run}", str(run["id"]))
    before = await _snapshot(api)
    r = await api.client.request(method, path.replace("{job}", str(job["id"]))
                                 .replace("{run}", str(run["id"])),
                                 content=raw.encode("utf-8", "surrogatepass"),
                                 headers={**api.admin, "content-type": "application/json"})
    assert r.status_code < 500, (route, raw[:200], r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    if r.status_code >= 400:
        assert r.json()["message"], r.text
        assert r.headers["x-should-retry"] == "false"
        assert await _snapshot(api) == before, (route, raw[:200])
    await _reads_still_work(api, job["id"])
    # leave the next example a clean slate (the api fixture is shared by hypothesis)
    for j in (await api.client.get("/jobs", headers=api.admin)).json():
        await api.client.delete(f"/jobs/{j['id']}", headers=api.admin)


async def test_every_id_route_with_a_dead_id_answers_like_a_missing_one(api: Api) -> None:
    """Make one of everything, delete it, make new ones (which must get new ids), and call
    every id route with the dead ids: each answer equals the answer for an id that never
    existed, and nothing changes."""
    spec = (await api.client.get("/openapi.json")).json()
    env = (await api.client.post("/org/environments", json={"name": "doomed"},
                                 headers=api.admin)).json()
    k = (await api.client.post("/apikeys", json={"environment_id": 1, "name": "doomed"},
                               headers=api.admin)).json()
    job = await api.define(name="doomed-job")
    run = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    dead: dict[str, int] = {"job_id": job["id"], "exec_id": run["id"], "key_id": k["id"],
                            "env_id": env["id"]}
    await api.client.delete(f"/jobs/{job['id']}", headers=api.admin)
    await api.client.delete(f"/org/environments/{env['id']}", headers=api.admin)
    # new things after the deletes (a reused id would name one of these)
    new_env = (await api.client.post("/org/environments", json={"name": "reborn"},
                                     headers=api.admin)).json()
    new_job = await api.define(name="reborn-job")
    new_run = (await api.client.post(f"/jobs/trigger/{new_job['id']}",
                                     headers=api.admin)).json()
    assert new_env["id"] != env["id"] and new_job["id"] != job["id"]
    assert new_run["id"] != run["id"]
    before = await _snapshot(api)
    for method, path in _id_routes(spec):
        if path.startswith("/apikeys/revoke"):
            continue  # a revoked key's id answers 200 (revocation is idempotent): below
        name = re.search(r"{(\w+)}", path).group(1)  # type: ignore[union-attr]
        body: Any = BODIES[(method, path)]
        kw: dict[str, Any] = {"headers": api.admin}
        if body is not None:
            kw["json"] = body
        if name not in dead:
            continue
        old = await api.client.request(method.upper(), path.replace(f"{{{name}}}",
                                                                    str(dead[name])), **kw)
        gone = await api.client.request(method.upper(), path.replace(f"{{{name}}}",
                                                                     str(MISSING)), **kw)
        assert old.status_code == gone.status_code == 404, (method, path, old.text)
        assert old.text.replace(str(dead[name]), "ID") == gone.text.replace(str(MISSING),
                                                                            "ID")
    assert await _snapshot(api) == before
