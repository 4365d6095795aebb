"""Tenant isolation over every route with an id, enumerated from the OpenAPI schema.

For each such route, a key of another environment (and an admin key of another organisation)
must get exactly the answer it gets for an id that does not exist, and the owner's object
must be unchanged. A new route with an id and no case below fails ``test_every_route_has_a_case``.
"""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import Api

MISSING = 987654
# (method, path template) -> request body used for the call
BODIES: dict[tuple[str, str], Any] = {
    ("get", "/jobs/{job_id}"): None,
    ("delete", "/jobs/{job_id}"): None,
    ("get", "/jobs/{job_id}/connections/count"): None,
    ("get", "/jobs/{job_id}/explain"): None,
    ("patch", "/jobs/mute/{job_id}"): {"muted": True},
    ("patch", "/jobs/pause/{job_id}"): None,
    ("patch", "/jobs/resume/{job_id}"): None,
    ("post", "/jobs/trigger/{job_id}"): None,
    ("patch", "/jobs/webhook/{job_id}"): {"webhook_url": "https://example.com/h"},
    ("get", "/jobs/executions/{job_id}"): None,
    ("post", "/jobs/executions/complete/{exec_id}"): {"success": True},
    ("post", "/jobs/executions/{exec_id}/cancel"): None,
    ("post", "/jobs/executions/{exec_id}/log"): {"lines": [{"text": "intruder"}]},
    ("get", "/jobs/executions/{exec_id}/log"): None,
    ("delete", "/apikeys/revoke/{key_id}"): None,
    ("delete", "/org/environments/{env_id}"): None,
    ("get", "/org/channels/{channel_id}"): None,
    ("put", "/org/channels/{channel_id}"): {"name": "stolen", "kind": "slack",
                                            "url": "https://example.com/s"},
    ("delete", "/org/channels/{channel_id}"): None,
    ("patch", "/jobs/skip/{job_id}"): {"count": 1},
    ("post", "/jobs/{job_id}/backfill"): {"from": "2020-01-01T00:00:00Z",
                                          "to": "2020-01-01T01:00:00Z"},
    ("post", "/jobs/executions/{exec_id}/rerun"): None,
    ("get", "/jobs/{job_id}/chain"): None,  # chains (issue 21)
    ("get", "/jobs/executions/{exec_id}/chain"): None,
    # the webhook signing secret (issue 22)
    ("get", "/org/environments/{env_id}/webhook-secret"): None,
    ("post", "/org/environments/{env_id}/webhook-secret/rotate"): {"overlap_seconds": 60},
}


def _id_routes(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, ops in spec["paths"].items()
        if "{" in path
        for method in ops
    ]


async def test_every_route_has_a_case(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    missing = [r for r in _id_routes(spec) if r not in BODIES]
    assert not missing, f"add an isolation case for {missing}"


async def _world(api: Api) -> tuple[dict[str, int], list[dict[str, str]]]:
    env2 = (await api.client.post("/org/environments", json={"name": "victim-spare"},
                                  headers=api.admin)).json()
    owner = await api.env_key(1, "owner")
    job = await api.define(headers=owner, name="victim-job")
    ex = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=owner)).json()
    key = (await api.client.post("/apikeys", json={"environment_id": 1, "name": "victim"},
                                 headers=api.admin)).json()
    env3 = (await api.client.post("/org/environments", json={"name": "intruder"},
                                  headers=api.admin)).json()
    intruders = [await api.env_key(env3["id"], "intruder"), await api.foreign_org()]
    chan = (await api.client.post("/org/channels", headers=owner, json={
        "name": "victim-chat", "kind": "slack", "url": "https://example.com/c"})).json()
    ids = {"job_id": job["id"], "exec_id": ex["id"], "key_id": key["id"],
           "env_id": env2["id"], "channel_id": chan["id"]}
    return ids, intruders


async def _snapshot(api: Api) -> Any:
    c, h = api.client, api.admin
    jobs = (await c.get("/jobs", headers=h)).json()
    execs = [(await c.get(f"/jobs/executions/{j['id']}", headers=h)).json() for j in jobs]
    keys = (await c.get("/apikeys", headers=h)).json()
    envs = (await c.get("/org/environments", headers=h)).json()
    chans = (await c.get("/org/channels", headers=h)).json()
    return jobs, execs, keys, envs, chans


async def test_foreign_ids_answer_like_missing_ids(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    ids, intruders = await _world(api)
    before = await _snapshot(api)
    for method, path in _id_routes(spec):
        name = re.search(r"{(\w+)}", path).group(1)  # type: ignore[union-attr]
        body = BODIES[(method, path)]
        for headers in intruders:
            kw: dict[str, Any] = {"headers": headers}
            if body is not None:
                kw["json"] = body
            real = await api.client.request(method.upper(), path.replace(f"{{{name}}}",
                                                                         str(ids[name])), **kw)
            gone = await api.client.request(method.upper(), path.replace(f"{{{name}}}",
                                                                         str(MISSING)), **kw)
            assert real.status_code in (403, 404), (method, path, real.status_code, real.text)
            assert real.status_code == gone.status_code, (method, path)
            assert real.text.replace(str(ids[name]), "ID") == gone.text.replace(str(MISSING),
                                                                                "ID"), (method,
                                                                                        path)
    assert await _snapshot(api) == before
