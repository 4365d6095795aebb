"""Answers encoded by the routes themselves (api/encode.py) are byte for byte what FastAPI
makes through the route's ``response_model``: same keys in the model's order, same JSON
(pydantic's), same headers; under ``/api`` too. A foreign id still answers like a missing
one."""

from __future__ import annotations

import random
from typing import Any

from pydantic import TypeAdapter

from schedo.server.api import shapes
from schedo.server.domain.timefmt import from_ms, rfc3339
from schedo.server.services.runs import MS_MAX, MS_MIN
from tests.conftest import Api

ODD = {"é": ["x\u2028y", 1.5, 1e16, 0.1, 10**15, None, True, "\"q\\"],
       "nested": {"a": {"b": [1, 2.25, -0.0]}}, "ctl": "\t\n\x01"}


def _through_model(model: Any, body: Any) -> bytes:
    ta = TypeAdapter(model)
    return ta.dump_json(ta.validate_python(body))


async def test_encoded_answers_are_the_models_bytes(api: Api) -> None:
    job = await api.define(name="enc-ü", metadata=ODD)
    ids = []
    for _ in range(3):
        r = await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin,
                                  json={"payload": {"n": 1.25, "s": "ü"}})
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
        api.clock.advance(1.5)
    done = await api.client.post(f"/jobs/executions/complete/{ids[0]}", headers=api.admin,
                                 json={"success": False, "error": "bad ü\n", "exit_code": 3})
    routes: list[tuple[str, str, Any, dict[str, Any] | None]] = [
        ("GET", f"/jobs/{job['id']}", shapes.JobDetail, None),
        ("GET", f"/jobs/executions/{job['id']}", list[shapes.ExecutionOut], None),
        ("GET", f"/jobs/executions/{job['id']}?limit=1&cursor={ids[2]}",
         list[shapes.ExecutionOut], None),
        ("GET", "/jobs", list[shapes.JobOut], None),
        ("POST", "/jobs/definition", shapes.JobOut,
         {"name": "enc-ü", "schedule": "*/5 * * * *", "metadata": ODD}),
    ]
    assert done.status_code == 200
    assert done.content == _through_model(shapes.ExecutionOut, done.json())
    for method, path, model, body in routes:
        for prefix in ("", "/api"):
            r = await api.client.request(method, prefix + path, headers=api.admin, json=body)
            assert r.status_code == 200, (path, r.text)
            assert r.content == _through_model(model, r.json()), path
            assert r.headers["content-type"] == "application/json"
            assert int(r.headers["content-length"]) == len(r.content)
    listed = (await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
    assert [e["id"] for e in listed] == ids[::-1]
    assert listed[2]["status"] == "failed" and listed[2]["metadata"] == ODD
    assert listed[2]["exit_code"] == 3 and listed[2]["error"] == "bad ü\n"
    assert listed[0]["payload"] == {"n": 1.25, "s": "ü"}
    # milliseconds shown only when non-zero (1.5 s steps)
    tails = [e["scheduled_for"][-5:].lstrip("0123456789") for e in listed]
    assert tails == [":03Z", ".500Z", ":00Z"]
    assert (await api.client.get(f"/jobs/{job['id']}", headers=api.admin)).json()[
        "job"]["metadata"] == ODD


def test_milliseconds_are_formatted_as_rfc3339_does() -> None:
    rng = random.Random(18)
    values = [rng.randrange(MS_MIN, MS_MAX) for _ in range(20_000)]
    values += [rng.randrange(0, 10**10) * 1000 for _ in range(1_000)]
    values += [0, 1, 999, 1000, -1, -1000, -86_400_001, MS_MIN, MS_MAX, 1_795_867_200_000]
    for ms in values:
        assert shapes.ms_rfc3339(ms) == rfc3339(from_ms(ms)), ms
    assert shapes.ms_rfc3339(None) is None


async def test_a_foreign_job_answers_like_a_missing_one(api: Api) -> None:
    job = await api.define(name="mine")
    other = await api.foreign_org()
    env2 = await api.env_key(1)
    missing = job["id"] + 1000
    for path in ("/jobs/{}", "/jobs/executions/{}"):
        for headers in (other,):
            foreign = await api.client.get(path.format(job["id"]), headers=headers)
            absent = await api.client.get(path.format(missing), headers=headers)
            assert foreign.status_code == absent.status_code == 404
            assert foreign.content.replace(str(job["id"]).encode(), b"N") == \
                absent.content.replace(str(missing).encode(), b"N")
            assert foreign.headers["x-should-retry"] == "false"
        mine = await api.client.get(path.format(job["id"]), headers=env2)
        assert mine.status_code == 200


async def test_the_pull_and_batch_reports_answers_are_the_models_bytes(api: Api) -> None:
    job = await api.define(name="enc-batch", metadata=ODD)
    r = await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin, json={})
    assert r.status_code == 200, r.text
    run = r.json()["id"]
    pulled = await api.client.get("/jobs/executions?jobs=enc-batch&wait=0", headers=api.admin)
    assert pulled.status_code == 200 and [e["id"] for e in pulled.json()] == [run]
    assert pulled.content == _through_model(list[shapes.ExecutionOut], pulled.json())
    assert pulled.headers["content-type"] == "application/json"
    body = {"results": [
        {"id": run, "success": True, "output": "ü"},
        {"id": run + 1000, "success": True},
        {"id": 0, "success": False},
        {"id": run, "success": False},
    ]}
    r = await api.client.post("/jobs/executions/complete", json=body, headers=api.admin)
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()] == [200, 404, 400, 409]
    assert r.content == _through_model(list[shapes.BatchResultOut], r.json())
    assert r.headers["content-type"] == "application/json"
