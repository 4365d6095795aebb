"""Chains over the API (issue 21): ``after`` in definitions, every bad input refused with
nothing stored, the chain reads, and a foreign id answering like a missing one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


async def _jobs(api: Api) -> list[dict[str, Any]]:
    return (await api.client.get("/jobs", headers=api.admin)).json()


async def _trigger_and_complete(api: Api, job_id: int, success: bool = True) -> dict[str, Any]:
    run = (await api.client.post(f"/jobs/trigger/{job_id}", headers=api.admin)).json()
    api.clock.advance(1)
    r = await api.client.post(f"/jobs/executions/complete/{run['id']}",
                              json={"success": success}, headers=api.admin)
    assert r.status_code == 200, r.text
    return r.json()


async def test_after_is_defined_shown_and_cleared(api: Api) -> None:
    await api.define(name="extract")
    await api.define(name="transform")
    load = await api.define(name="load", after={"jobs": ["extract", "transform"],
                                                "on": "completion", "within_seconds": 120})
    assert load["after"] == {"jobs": ["extract", "transform"], "on": "completion",
                             "within_seconds": 120}
    # a list of names is the short form; a schedule is optional with after (@never)
    only = await api.client.post("/jobs/definition", json={"name": "report",
                                                          "after": ["load"]},
                                 headers=api.admin)
    assert only.status_code == 200, only.text
    assert only.json()["after"] == {"jobs": ["load"], "on": "success", "within_seconds": 3600}
    assert only.json()["cron_expression"] == "@never" and only.json()["next_run_at"] is None
    again = await api.define(name="load", after=None)
    assert again["after"] is None and again["id"] == load["id"]
    plain = await api.define(name="load")  # absent: no chain either
    assert plain["after"] is None
    assert (await api.client.get(f"/jobs/{load['id']}", headers=api.admin)).json()[
        "job"]["after"] is None


BAD: list[tuple[dict[str, Any], int, str]] = [
    ({"after": "extract"}, 422, "after"),
    ({"after": 5}, 422, "after"),
    ({"after": {}}, 400, "after.jobs: must be a non-empty list"),
    ({"after": []}, 400, "after.jobs: must be a non-empty list"),
    ({"after": {"jobs": "extract"}}, 400, "after.jobs"),
    ({"after": {"jobs": [1]}}, 400, "after.jobs"),
    ({"after": {"jobs": ["extract", "extract"]}}, 400, "named twice"),
    ({"after": {"jobs": ["nope-job"]}}, 400, "after.jobs: no job named 'nope-job'"),
    ({"after": {"jobs": ["new-job"]}}, 400, "a job cannot run after itself"),
    ({"after": {"jobs": ["extract"], "on": "maybe"}}, 400, "after.on"),
    ({"after": {"jobs": ["extract"], "within_seconds": 0}}, 400, "after.within_seconds"),
    ({"after": {"jobs": ["extract"], "within_seconds": "60"}}, 400, "after.within_seconds"),
    ({"after": {"jobs": ["extract"], "within_seconds": 10**12}}, 400, "after.within_seconds"),
    ({"after": {"jobs": ["extract"], "when": "now"}}, 400, "after: unknown field"),
    ({"after": {"jobs": ["extract\u0000"]}}, 422, "after"),
    ({"after": ["extract"], "type": "heartbeat"}, 400, "heartbeat"),
    ({}, 422, "schedule"),  # neither a schedule nor after
]


@pytest.mark.parametrize(("extra", "status", "words"), BAD)
async def test_bad_after_is_refused_and_changes_nothing(
    api: Api, extra: dict[str, Any], status: int, words: str
) -> None:
    await api.define(name="extract")
    before = await _jobs(api)
    body = {"name": "new-job", **extra}
    if "after" in extra and "schedule" not in extra:
        body["schedule"] = "*/5 * * * *"
    r = await api.client.post("/jobs/definition", json=body, headers=api.admin)
    assert r.status_code == status, r.text
    assert words in r.json()["message"], r.text
    assert await _jobs(api) == before


async def test_a_cycle_is_refused_naming_the_loop(api: Api) -> None:
    await api.define(name="aaaa")
    await api.define(name="bbbb", after=["aaaa"])
    await api.define(name="cccc", after=["bbbb"])
    before = await _jobs(api)
    r = await api.client.post("/jobs/definition", json={
        "name": "aaaa", "schedule": "* * * * *", "after": ["cccc"]}, headers=api.admin)
    assert r.status_code == 400, r.text
    assert "aaaa -> cccc -> bbbb -> aaaa" in r.json()["message"]
    assert await _jobs(api) == before


async def test_an_upstream_end_runs_the_downstream_job_and_the_chain_reads(api: Api) -> None:
    extract = await api.define(name="extract")
    transform = await api.define(name="transform")
    load = await api.define(name="load", after=["extract", "transform"])
    e1 = await _trigger_and_complete(api, extract["id"])
    hist = (await api.client.get(f"/jobs/executions/{load['id']}", headers=api.admin)).json()
    assert hist == []
    t1 = await _trigger_and_complete(api, transform["id"])
    [run] = (await api.client.get(f"/jobs/executions/{load['id']}", headers=api.admin)).json()
    assert run["trigger"] == "chain" and run["status"] == "pending"
    assert run["scheduled_for"] == t1["end_time"]
    ch = (await api.client.get(f"/jobs/executions/{run['id']}/chain", headers=api.admin)).json()
    assert {c["id"] for c in ch["causes"]} == {e1["id"], t1["id"]} and ch["effects"] == []
    up = (await api.client.get(f"/jobs/executions/{e1['id']}/chain", headers=api.admin)).json()
    assert [x["id"] for x in up["effects"]] == [run["id"]] and up["causes"] == []
    jc = (await api.client.get(f"/jobs/{load['id']}/chain", headers=api.admin)).json()
    assert [j["name"] for j in jc["upstream"]] == ["extract", "transform"]
    assert jc["downstream"] == [] and jc["missing"] == []
    ec = (await api.client.get(f"/jobs/{extract['id']}/chain", headers=api.admin)).json()
    assert [j["name"] for j in ec["downstream"]] == ["load"] and ec["upstream"] == []
    # the worker's pull gets it like any run
    key = await api.env_key()
    got = (await api.client.get("/jobs/executions", params={"jobs": "load"},
                                headers=key)).json()
    assert [g["id"] for g in got] == [run["id"]]


async def test_foreign_and_missing_ids_are_404(api: Api) -> None:
    extract = await api.define(name="extract")
    e1 = await _trigger_and_complete(api, extract["id"])
    other = await api.foreign_org()
    env2 = (await api.client.post("/org/environments", json={"name": "staging"},
                                  headers=api.admin)).json()
    staging = await api.env_key(env2["id"])
    for headers in (other, staging):
        for path in (f"/jobs/{extract['id']}/chain", f"/jobs/executions/{e1['id']}/chain"):
            r = await api.client.get(path, headers=headers)
            assert r.status_code == 404, r.text
    for path in ("/jobs/99999/chain", "/jobs/executions/99999/chain"):
        missing = await api.client.get(path, headers=api.admin)
        assert missing.status_code == 404 and "not found" in missing.json()["message"]
    for path in ("/jobs/abc/chain", "/jobs/executions/-1/chain", "/api/jobs/0/chain"):
        r = await api.client.get(path, headers=api.admin)
        assert r.status_code in (400, 404), (path, r.text)
    # an upstream in another environment is unknown here
    r = await api.client.post("/jobs/definition", json={
        "name": "load", "schedule": "* * * * *", "after": ["extract"]}, headers=staging)
    assert r.status_code == 400 and "no job named 'extract'" in r.json()["message"]
