"""Command job targets over the API (issue 21): definitions, the agents' pulls, expiry."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def test_a_target_is_defined_shown_and_checked(api: Api) -> None:
    job = await api.define(name="db-backup", command="pg_dump",
                           target={"tags": ["DB", "eu"], "mode": "any"})
    assert job["target"] == {"tags": ["db", "eu"], "mode": "any"} and job["type"] == "command"
    one = await api.define(name="on-host", command="true", target={"host": "db1"})
    assert one["target"] == {"host": "db1"}
    plain = await api.define(name="no-target", command="true")
    assert plain["target"] is None
    cases = [
        ({"name": "sdk-target", "target": {"host": "db1"}}, "only command jobs"),
        ({"name": "bad-tag", "command": "true", "target": {"tags": ["no good"]}}, "target.tags"),
        ({"name": "all-mode", "command": "true", "target": {"mode": "all"}},
         "target.tags: a non-empty list"),
        ({"name": "all-none", "command": "true", "target": {"tags": [], "mode": "all"}},
         "target.tags: a non-empty list"),
        ({"name": "bad-mode", "command": "true", "target": {"tags": ["db"], "mode": "each"}},
         'target.mode: must be "any" or "all"'),
        ({"name": "both-of", "command": "true", "target": {"host": "a", "tags": ["b"]}},
         "not both"),
        ({"name": "wrong-shape", "command": "true", "target": ["db"]}, ""),
    ]
    for body, words in cases:
        r = await api.client.post("/jobs/definition", json={"schedule": "* * * * *", **body},
                                  headers=api.admin)
        assert r.status_code in (400, 422), (body, r.text)
        assert words in r.json()["message"], r.text
    names = {j["name"] for j in (await api.client.get("/jobs", headers=api.admin)).json()}
    assert names == {"db-backup", "on-host", "no-target"}


async def test_agents_take_only_runs_their_host_and_tags_allow(api: Api) -> None:
    job = await api.define(name="needs-db", command="true", target={"tags": ["db"]})
    run = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    url = "/jobs/executions?type=command&wait=0"
    web = {**api.admin, "x-schedo-agent-host": "web1", "x-schedo-agent-tags": "web,eu"}
    assert (await api.client.get(url, headers=web)).json() == []
    assert (await api.client.get(url, headers=api.admin)).json() == []  # announced nothing
    bad = {**api.admin, "x-schedo-agent-tags": "Not A Tag"}
    r = await api.client.get(url, headers=bad)
    assert r.status_code == 400 and "x-schedo-agent-tags" in r.json()["message"]
    db = {**api.admin, "x-schedo-agent-host": "db1", "x-schedo-agent-tags": "eu,db"}
    [got] = (await api.client.get(url, headers=db)).json()
    assert got["id"] == run["id"]


async def test_a_run_no_agent_can_take_expires_saying_why(api: Api) -> None:
    job = await api.define(name="on-db9", command="true", target={"host": "db9"},
                           timeout_seconds=30)
    run = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    api.clock.advance(31)
    await api.svc.store.expire_overdue(api.clock.now())
    [e] = (await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
    assert e["id"] == run["id"] and e["status"] == "expired"
    assert e["error"] == ("expired: not picked up within 30s of becoming due "
                          "(no agent on host db9 connected?)")


async def test_mode_all_fans_out_to_the_agents_that_pulled(api: Api) -> None:
    """Agents announce host and tags on their pulls (no --jobs: no job codes named); a
    trigger of a mode "all" job makes one run per matching host, each showing its host."""
    job = await api.define(name="everywhere", command="true",
                           target={"tags": ["db"], "mode": "all"})
    assert job["target"] == {"tags": ["db"], "mode": "all"}
    url = "/jobs/executions?type=command&wait=0"
    heads = {h: {**api.admin, "x-schedo-agent-host": h, "x-schedo-agent-tags": t,
                 "x-schedo-worker-id": f"agent-{h}-1"}
             for h, t in (("db1", "db,eu"), ("db2", "db"), ("web1", "web"))}
    for h in heads.values():
        assert (await api.client.get(url, headers=h)).json() == []
    first = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    runs = (await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
    assert sorted(r["target_host"] for r in runs) == ["db1", "db2"]
    assert first["id"] == min(r["id"] for r in runs)
    [got] = (await api.client.get(url, headers=heads["db2"])).json()
    assert got["target_host"] == "db2" and got["worker"] == "agent-db2-1"
    assert (await api.client.get(url, headers=heads["web1"])).json() == []
    # a redefinition with a bad target is refused and changes nothing
    r = await api.client.post("/jobs/definition", headers=api.admin, json={
        "name": "everywhere", "schedule": "* * * * *", "command": "true",
        "target": {"mode": "all"}})
    assert r.status_code == 400 and "target.tags" in r.json()["message"]
    again = (await api.client.get(f"/jobs/{job['id']}", headers=api.admin)).json()["job"]
    assert again["target"] == {"tags": ["db"], "mode": "all"}
    # the job page lists each run with its host; the run page names its target
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        token = CSRF.search((await b.get("/ui/login")).text)
        assert token
        await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1)})
        page = (await b.get(f"/ui/jobs/{job['id']}")).text
        cells = re.findall(r'<td data-label="Host" class="host">([^<]*)</td>', page)
        assert sorted(cells) == ["db1", "db2"], page
        run_page = (await b.get(f"/ui/jobs/{job['id']}/runs/{got['id']}")).text
        assert "host db2, tags db" in run_page
