"""Execution history and completion rules (SPEC 2.2, 2.3)."""

from __future__ import annotations

from tests.conftest import Api


async def _run(api: Api, name: str = "exec-job", **opts: object) -> tuple[dict, dict]:
    job = await api.define(name=name, **opts)
    ex = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    return job, ex


async def test_history_newest_first_with_cursor_paging(api: Api) -> None:
    job = await api.define(name="paged-job")
    ids = []
    for _ in range(5):
        ids.append((await api.client.post(f"/jobs/trigger/{job['id']}",
                                          headers=api.admin)).json()["id"])
        api.clock.advance(1)
    page1 = (await api.client.get(f"/jobs/executions/{job['id']}?limit=2",
                                  headers=api.admin)).json()
    assert [e["id"] for e in page1] == ids[::-1][:2]
    page2 = (await api.client.get(f"/jobs/executions/{job['id']}?limit=2&cursor={page1[-1]['id']}",
                                  headers=api.admin)).json()
    assert [e["id"] for e in page2] == ids[::-1][2:4]
    allx = (await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
    assert len(allx) == 5
    for bad in ("limit=0", "limit=201", "cursor=-1", "limit=x"):
        r = await api.client.get(f"/jobs/executions/{job['id']}?{bad}", headers=api.admin)
        assert r.status_code == 400, bad


async def test_complete_success_records_times_and_is_idempotent(api: Api) -> None:
    job, ex = await _run(api)
    start_ms = 1_795_867_200_000  # 2026-11-28T12:00:00Z
    body = {"success": True, "output": "42 rows", "start_server_time_utc": start_ms,
            "complete_server_time_utc": start_ms + 1500}
    r = await api.client.post(f"/jobs/executions/complete/{ex['id']}", json=body,
                              headers=api.admin)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "completed" and done["output"] == "42 rows"
    assert done["duration"] == 1500
    assert done["start_time"] == "2026-11-28T12:00:00Z"
    assert done["end_time"] == "2026-11-28T12:00:01.500Z"
    again = await api.client.post(f"/jobs/executions/complete/{ex['id']}", json=body,
                                  headers=api.admin)
    assert again.status_code == 200 and again.json() == done
    status = (await api.client.get(f"/jobs/{job['id']}", headers=api.admin)).json()
    assert status["job"]["status"] == "completed" and status["last_run"]["id"] == ex["id"]


async def test_conflicting_report_is_409_and_changes_nothing(api: Api) -> None:
    _, ex = await _run(api)
    url = f"/jobs/executions/complete/{ex['id']}"
    assert (await api.client.post(url, json={"success": False, "error": "boom"},
                                  headers=api.admin)).status_code == 200
    r = await api.client.post(url, json={"success": True}, headers=api.admin)
    assert r.status_code == 409 and "failed" in r.json()["message"]
    hist = (await api.client.get(f"/jobs/executions/{ex['job_id']}", headers=api.admin)).json()
    assert hist[0]["status"] == "failed" and hist[0]["error"] == "boom"


async def test_failure_with_retries_creates_retry_execution(api: Api) -> None:
    job, ex = await _run(api, name="retry-job", max_retries=1)
    await api.client.post(f"/jobs/executions/complete/{ex['id']}", json={"success": False},
                          headers=api.admin)
    hist = (await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
    assert [(e["attempt"], e["trigger"], e["status"]) for e in hist] == [
        (2, "retry", "pending"), (1, "manual", "failed")]
    assert hist[0]["scheduled_for"] == hist[1]["scheduled_for"]
    detail = (await api.client.get(f"/jobs/{job['id']}", headers=api.admin)).json()
    assert detail["job"]["retry_count"] == 1


async def test_complete_unknown_and_bad_input(api: Api) -> None:
    _, ex = await _run(api)
    r = await api.client.post("/jobs/executions/complete/999999", json={"success": True},
                              headers=api.admin)
    assert r.status_code == 404
    r = await api.client.post(f"/jobs/executions/complete/{ex['id']}",
                              json={"success": "yes"}, headers=api.admin)
    assert r.status_code == 422
    r = await api.client.post(f"/jobs/executions/complete/{ex['id']}",
                              json={"success": True, "start_server_time_utc": -5},
                              headers=api.admin)
    assert r.status_code == 400 and "start_server_time_utc" in r.json()["message"]
    hist = (await api.client.get(f"/jobs/executions/{ex['job_id']}", headers=api.admin)).json()
    assert hist[0]["status"] == "pending"


async def test_huge_output_is_truncated(api: Api) -> None:
    _, ex = await _run(api)
    r = await api.client.post(f"/jobs/executions/complete/{ex['id']}",
                              json={"success": True, "output": "x" * 200_000},
                              headers=api.admin)
    assert r.status_code == 200
    out = r.json()["output"]
    assert out.startswith("x" * 1000) and len(out.encode()) < 70 * 1024
    assert out.endswith("[truncated]")


async def test_batch_completion_gives_each_report_its_own_result(api: Api) -> None:
    job = await api.define(name="batch-job", max_retries=1)
    ids = [(await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()["id"]
           for _ in range(3)]
    await api.client.post(f"/jobs/executions/complete/{ids[2]}", json={"success": False},
                          headers=api.admin)
    body = {"results": [
        {"id": ids[0], "success": True, "output": "one"},
        {"id": ids[1], "success": False, "error": "two failed"},
        {"id": ids[2], "success": True},  # already failed: conflict
        {"id": 999999, "success": True},  # unknown
        {"id": ids[0], "success": True, "start_server_time_utc": 5},  # invalid time
    ]}
    r = await api.client.post("/jobs/executions/complete", json=body, headers=api.admin)
    assert r.status_code == 200, r.text
    out = r.json()
    assert [x["status"] for x in out] == [200, 200, 409, 404, 400]
    assert out[0]["execution"]["status"] == "completed" and out[0]["execution"]["output"] == "one"
    assert out[1]["execution"]["status"] == "failed"
    assert "start_server_time_utc" in out[4]["message"]
    runs = (await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
    retries = [e for e in runs if e["trigger"] == "retry"]
    assert len(retries) == 2  # the two failures each got their retry
    r = await api.client.post("/jobs/executions/complete", json={"results": "x"},
                              headers=api.admin)
    assert r.status_code == 422
