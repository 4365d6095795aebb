"""Job endpoints: happy paths and state rules (SPEC 2.2)."""

from __future__ import annotations

import pytest

from tests.conftest import Api


async def test_define_creates_sdk_job_with_full_shape(api: Api) -> None:
    job = await api.define(name="nightly-report", schedule="0 2 * * *",
                           timezone="Europe/Berlin", metadata={"team": "data"},
                           timeout_seconds=300, blocking=True, max_retries=3)
    assert job["name"] == job["key"] == "nightly-report"
    assert job["type"] == "sdk"
    assert job["timezone"] == "Europe/Berlin"
    assert job["timeout_seconds"] == 300 and job["timeout"] == "5m"
    assert job["blocking"] is True and job["max_retries"] == 3 and job["retry_count"] == 0
    assert job["metadata"] == {"team": "data"}
    assert job["paused"] is False and job["muted"] is False
    assert job["status"] == "pending" and job["last_run_at"] is None
    # 02:00 in Berlin (UTC+1 in November) is 01:00Z; the clock stands at 2026-11-28 12:00Z
    assert job["next_run_at"] == "2026-11-29T01:00:00Z"
    assert job["created_at"] == "2026-11-28T12:00:00Z"
    assert job["environment_id"] == 1


async def test_define_push_and_command_types(api: Api) -> None:
    push = await api.define(name="push-job", webhook_url="https://example.com/hook")
    assert push["type"] == "push" and push["webhook_url"] == "https://example.com/hook"
    cmd = await api.define(name="cmd-job", command="echo hi")
    assert cmd["type"] == "command" and cmd["command"] == "echo hi"
    r = await api.client.post("/jobs/definition", headers=api.admin, json={
        "name": "both-kinds", "schedule": "* * * * *", "webhook_url": "https://e.com",
        "command": "x"})
    assert r.status_code == 400 and "command" in r.json()["message"]


async def test_redefine_updates_options_keeps_id_flags_and_history(api: Api) -> None:
    job = await api.define(name="report-job", schedule="0 * * * *")
    jid = job["id"]
    assert (await api.client.patch(f"/jobs/pause/{jid}", headers=api.admin)).status_code == 200
    r = await api.client.patch(f"/jobs/mute/{jid}", json={"muted": True}, headers=api.admin)
    assert r.json()["muted"] is True
    run = (await api.client.post(f"/jobs/trigger/{jid}", headers=api.admin)).json()
    again = await api.define(name="report-job", schedule="30 * * * *", max_retries=2)
    assert again["id"] == jid
    assert again["cron_expression"] == "30 * * * *" and again["max_retries"] == 2
    assert again["paused"] is True and again["muted"] is True
    assert again["next_run_at"] is None  # still paused
    hist = (await api.client.get(f"/jobs/executions/{jid}", headers=api.admin)).json()
    assert [e["id"] for e in hist] == [run["id"]]


async def test_redefine_with_same_schedule_keeps_next_run(api: Api) -> None:
    job = await api.define(name="keep-next", schedule="0 3 * * *")
    api.clock.advance(3600)
    again = await api.define(name="keep-next", schedule="0 3 * * *", metadata={"v": 2})
    assert again["next_run_at"] == job["next_run_at"]
    assert again["metadata"] == {"v": 2}


async def test_list_get_and_delete(api: Api) -> None:
    a = await api.define(name="job-a")
    b = await api.define(name="job-b")
    jobs = (await api.client.get("/jobs", headers=api.admin)).json()
    assert [j["name"] for j in jobs] == ["job-a", "job-b"]
    listed = (await api.client.get("/jobs/list", headers=api.admin)).json()
    assert [(x["connections_count"], x["job"]["id"]) for x in listed] == [(0, a["id"]),
                                                                          (0, b["id"])]
    detail = (await api.client.get(f"/jobs/{a['id']}", headers=api.admin)).json()
    assert detail["job"]["id"] == a["id"] and detail["last_run"] is None
    assert detail["connections_count"] == 0
    assert (await api.client.get(f"/jobs/{a['id']}/connections/count",
                                 headers=api.admin)).json() == 0
    await api.client.post(f"/jobs/trigger/{a['id']}", headers=api.admin)
    r = await api.client.delete(f"/jobs/{a['id']}", headers=api.admin)
    assert r.status_code == 200 and isinstance(r.json(), str)
    assert (await api.client.get(f"/jobs/{a['id']}", headers=api.admin)).status_code == 404
    assert (await api.client.get(f"/jobs/executions/{a['id']}",
                                 headers=api.admin)).status_code == 404
    # a worker that still defines it re-creates it with a new id
    again = await api.define(name="job-a")
    assert again["id"] not in (a["id"], b["id"])


async def test_pause_and_resume_compute_next_run_from_now(api: Api) -> None:
    job = await api.define(name="hourly-job", schedule="0 * * * *")
    assert job["next_run_at"] == "2026-11-28T13:00:00Z"
    paused = (await api.client.patch(f"/jobs/pause/{job['id']}", headers=api.admin)).json()
    assert paused["paused"] is True and paused["next_run_at"] is None
    api.clock.advance(3 * 3600 + 60)  # 15:01
    resumed = (await api.client.patch(f"/jobs/resume/{job['id']}", headers=api.admin)).json()
    assert resumed["paused"] is False and resumed["next_run_at"] == "2026-11-28T16:00:00Z"


async def test_mute_toggles(api: Api) -> None:
    job = await api.define(name="mute-me")
    for value in (True, False):
        r = await api.client.patch(f"/jobs/mute/{job['id']}", json={"muted": value},
                                   headers=api.admin)
        assert r.status_code == 200 and r.json()["muted"] is value


async def test_trigger_creates_manual_run(api: Api) -> None:
    job = await api.define(name="trigger-me", metadata={"k": 1})
    r = await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)
    assert r.status_code == 200
    ex = r.json()
    assert ex["trigger"] == "manual" and ex["status"] == "pending" and ex["attempt"] == 1
    assert ex["job_code"] == "trigger-me" and ex["job_id"] == job["id"]
    assert ex["scheduled_for"] == "2026-11-28T12:00:00Z" and ex["metadata"] == {"k": 1}


async def test_trigger_on_busy_blocking_job_is_conflict(api: Api) -> None:
    job = await api.define(name="blocking-job", blocking=True)
    assert (await api.client.post(f"/jobs/trigger/{job['id']}",
                                  headers=api.admin)).status_code == 200
    r = await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)
    assert r.status_code == 409 and "blocking" in r.json()["message"]


async def test_webhook_patch_switches_type(api: Api) -> None:
    job = await api.define(name="hook-later")
    r = await api.client.patch(f"/jobs/webhook/{job['id']}",
                               json={"webhook_url": "https://example.com/x"}, headers=api.admin)
    assert r.status_code == 200 and r.json()["type"] == "push"
    r = await api.client.patch(f"/jobs/webhook/{job['id']}", json={"webhook_url": "ftp://x"},
                               headers=api.admin)
    assert r.status_code == 400 and "webhook_url" in r.json()["message"]
    r = await api.client.patch(f"/jobs/webhook/{job['id']}", json={"webhook_url": None},
                               headers=api.admin)
    assert r.json()["type"] == "sdk" and r.json()["webhook_url"] is None


@pytest.mark.parametrize("prefix", ["", "/api"])
async def test_routes_served_at_root_and_api(api: Api, prefix: str) -> None:
    r = await api.client.post(f"{prefix}/jobs/definition", headers=api.admin,
                              json={"name": "prefixed", "schedule": "@hourly"})
    assert r.status_code == 200
    r = await api.client.get(f"{prefix}/jobs/{r.json()['id']}", headers=api.admin)
    assert r.status_code == 200 and r.json()["job"]["name"] == "prefixed"


async def test_ops_routes(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).status_code == 200
    spec = (await api.client.get("/openapi.json")).json()
    assert "/jobs/definition" in spec["paths"]
    assert (await api.client.get("/docs")).status_code == 200
