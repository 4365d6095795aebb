"""Runs while they run (issue 21): cancel, the worker's cancel watch, live output."""

from __future__ import annotations

import asyncio
import json

from tests.conftest import Api


async def _claimed(api: Api, name: str, **opts: object) -> tuple[dict, dict]:
    job = await api.define(name=name, **opts)
    await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)
    r = await api.client.get(f"/jobs/executions?jobs={name}&wait=0",
                             headers={**api.admin, "x-schedo-worker-id": "host-a-4242-ab"})
    [ex] = r.json()
    return job, ex


async def test_cancel_a_running_run_ends_it_cancelled_without_retry_or_alert(api: Api) -> None:
    job, ex = await _claimed(api, "cancel-me", max_retries=3)
    assert ex["status"] == "running" and ex["worker"] == "host-a-4242-ab"
    api.clock.advance(2)
    r = await api.client.post(f"/jobs/executions/{ex['id']}/cancel",
                              json={"reason": "wrong input"}, headers=api.admin)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "cancelled" and done["end_time"]
    assert done["error"] == "cancelled on request: wrong input"
    assert done["duration"] == 2000 and done["worker"] == "host-a-4242-ab"
    hist = (await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
    assert [e["status"] for e in hist] == ["cancelled"]  # no retry
    detail = (await api.client.get(f"/jobs/{job['id']}", headers=api.admin)).json()
    assert detail["job"]["status"] == "failed"
    assert await api.svc.store.list_notifications(1, 10) == []  # no failure alert
    # the worker's late report is refused, and changes nothing
    late = await api.client.post(f"/jobs/executions/complete/{ex['id']}",
                                 json={"success": True}, headers=api.admin)
    assert late.status_code == 409 and "cancelled" in late.json()["message"]
    again = await api.client.post(f"/jobs/executions/{ex['id']}/cancel", headers=api.admin)
    assert again.status_code == 409 and "already ended as cancelled" in again.json()["message"]
    assert again.headers.get("x-should-retry") == "false"


async def test_cancel_refuses_ended_foreign_and_bad_ids(api: Api) -> None:
    _, ex = await _claimed(api, "ended-run")
    await api.client.post(f"/jobs/executions/complete/{ex['id']}", json={"success": True},
                          headers=api.admin)
    r = await api.client.post(f"/jobs/executions/{ex['id']}/cancel", headers=api.admin)
    assert r.status_code == 409 and "completed" in r.json()["message"]
    other = await api.foreign_org()
    _, mine = await _claimed(api, "foreign-run")
    r = await api.client.post(f"/jobs/executions/{mine['id']}/cancel", headers=other)
    assert r.status_code == 404
    for bad in ("0", "-1", "abc", "99999999999"):
        r = await api.client.post(f"/jobs/executions/{bad}/cancel", headers=api.admin)
        assert r.status_code in (400, 404), bad
    r = await api.client.post(f"/jobs/executions/{mine['id']}/cancel",
                              json={"reason": "x" * 501}, headers=api.admin)
    assert r.status_code == 400
    r = await api.client.post(f"/jobs/executions/{mine['id']}/cancel", json={"why": "typo"},
                              headers=api.admin)
    assert r.status_code == 400
    hist = (await api.client.get(f"/jobs/executions/{mine['job_id']}", headers=api.admin)).json()
    assert hist[0]["status"] == "running"


async def test_a_pending_run_can_be_cancelled_and_is_never_claimed(api: Api) -> None:
    job = await api.define(name="pending-cancel")
    ex = (await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)).json()
    r = await api.client.post(f"/jobs/executions/{ex['id']}/cancel", headers=api.admin)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert r.json()["duration"] is None
    got = await api.client.get("/jobs/executions?jobs=pending-cancel&wait=0", headers=api.admin)
    assert got.json() == []


async def test_the_cancel_watch_answers_at_once_or_when_a_run_is_cancelled(api: Api) -> None:
    _, a = await _claimed(api, "watch-one")
    _, b = await _claimed(api, "watch-two")
    url = "/jobs/executions/cancelled"
    quick = await api.client.post(url, json={"ids": [a["id"], b["id"]]}, headers=api.admin)
    assert quick.status_code == 200 and quick.json() == {"cancelled": []}
    loop = asyncio.get_running_loop()
    began = loop.time()
    waiting = asyncio.create_task(api.client.post(
        f"{url}?wait=20", json={"ids": [a["id"], b["id"], 999999]}, headers=api.admin))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await api.client.post(f"/jobs/executions/{b['id']}/cancel", headers=api.admin)
    r = await asyncio.wait_for(waiting, 5)
    assert r.json() == {"cancelled": [b["id"]]} and loop.time() - began < 5
    other = await api.foreign_org()
    r = await api.client.post(url, json={"ids": [b["id"]]}, headers=other)
    assert r.json() == {"cancelled": []}  # a foreign id is not revealed
    for query, body in (("", {"ids": [0]}), ("", {"ids": list(range(1, 1002))}),
                        ("?wait=31", {"ids": [1]}), ("", {"ids": "1"}), ("", {"wait": 1})):
        r = await api.client.post(url + query, json=body, headers=api.admin)
        assert r.status_code in (400, 422), body


async def test_live_output_is_kept_read_and_capped(api: Api) -> None:
    _, ex = await _claimed(api, "log-me")
    url = f"/jobs/executions/{ex['id']}/log"
    r = await api.client.post(url, json={"lines": [
        {"text": "hello"}, {"text": "two\nlines", "stream": "output", "at": 1_795_867_200_000},
    ]}, headers=api.admin)
    assert r.status_code == 200 and r.json() == {"kept": 3, "dropped": 0, "live": True}
    got = (await api.client.get(url, headers=api.admin)).json()
    assert [(x["stream"], x["line"]) for x in got["lines"]] == [
        ("log", "hello"), ("output", "two"), ("output", "lines")]
    assert got["lines"][1]["at"] == "2026-11-28T12:00:00Z"
    assert got["execution"]["id"] == ex["id"] and got["next_after"] == got["lines"][-1]["id"]
    more = (await api.client.get(f"{url}?after={got['next_after']}", headers=api.admin)).json()
    assert more["lines"] == [] and more["next_after"] == got["next_after"]
    # a batch over 1,000 lines is 413 and keeps nothing
    big = {"lines": [{"text": str(i)} for i in range(1001)]}
    r = await api.client.post(url, json=big, headers=api.admin)
    assert r.status_code == 413 and r.headers.get("x-should-retry") == "false"
    bad = [{"lines": [{"text": "x", "stream": "stdin"}]}, {"lines": [{"text": 1}]},
           {"lines": [{"text": "x", "at": 5}]}, {"text": "x"}]
    for body in bad:
        r = await api.client.post(url, json=body, headers=api.admin)
        assert r.status_code in (400, 422), body
    assert len((await api.client.get(url, headers=api.admin)).json()["lines"]) == 3
    other = await api.foreign_org()
    assert (await api.client.post(url, json={"lines": [{"text": "x"}]},
                                  headers=other)).status_code == 404
    assert (await api.client.get(url, headers=other)).status_code == 404


async def test_the_after_cursor_at_the_int4_edges(api: Api) -> None:
    """Line ids are 32-bit: a cursor past 2^31-1 means "after every line" (an empty page
    that keeps the cursor), on PostgreSQL too, where it used to overflow int4 (503)."""
    _, ex = await _claimed(api, "log-edges")
    url = f"/jobs/executions/{ex['id']}/log"
    await api.client.post(url, json={"lines": [{"text": "one"}]}, headers=api.admin)
    for after in (2**31 - 1, 2**31, 2**32, 2**62):
        r = await api.client.get(f"{url}?after={after}", headers=api.admin)
        assert r.status_code == 200, (after, r.text)
        assert r.json()["lines"] == [] and r.json()["next_after"] == after
    r = await api.client.get(f"{url}?after={2**62 + 1}", headers=api.admin)
    assert r.status_code == 400 and r.json()["message"].startswith("after")


async def test_the_cap_cuts_the_log_visibly(api: Api) -> None:
    from schedo.server.services import live
    _, ex = await _claimed(api, "log-cap")
    url = f"/jobs/executions/{ex['id']}/log"
    old = live.LOG_CAPS
    live.LOG_CAPS = type(old)(lines=5, bytes=1000)
    try:
        r = await api.client.post(url, json={"lines": [{"text": f"l{i}"} for i in range(7)]},
                                  headers=api.admin)
        assert r.json() == {"kept": 4, "dropped": 3, "live": True}
        r = await api.client.post(url, json={"lines": [{"text": "later"}]}, headers=api.admin)
        assert r.json()["kept"] == 0 and r.json()["dropped"] == 1
    finally:
        live.LOG_CAPS = old
    lines = (await api.client.get(url, headers=api.admin)).json()["lines"]
    assert [x["line"] for x in lines[:4]] == ["l0", "l1", "l2", "l3"]
    assert lines[-1]["stream"] == "cut" and "cap" in lines[-1]["line"] and len(lines) == 5


async def test_follow_streams_lines_then_the_end(api: Api) -> None:
    _, ex = await _claimed(api, "log-follow")
    url = f"/jobs/executions/{ex['id']}/log"
    await api.client.post(url, json={"lines": [{"text": "first"}]}, headers=api.admin)
    events: list[tuple[str, dict]] = []

    async def follow() -> None:
        async with api.client.stream("GET", f"{url}?follow=1", headers=api.admin) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            kind = "message"
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line[6:])))
                    if kind == "end":
                        return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.3)
    await api.client.post(url, json={"lines": [{"text": "second"}]}, headers=api.admin)
    await asyncio.sleep(0.3)
    await api.client.post(f"/jobs/executions/complete/{ex['id']}", json={"success": True},
                          headers=api.admin)
    await asyncio.wait_for(task, 10)
    assert [(k, d.get("line")) for k, d in events[:2]] == [("line", "first"), ("line", "second")]
    assert events[-1][0] == "end" and events[-1][1]["status"] == "completed"


async def test_the_run_page_shows_the_worker_the_live_output_and_cancels(api: Api) -> None:
    import re

    import httpx

    from tests.conftest import ADMIN_KEY

    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    job, ex = await _claimed(api, "page-cancel")
    await api.client.post(f"/jobs/executions/{ex['id']}/log",
                          json={"lines": [{"text": "<b>step one</b>"}]}, headers=api.admin)
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        page = await b.get("/ui/login")
        token = csrf.search(page.text)
        assert token
        await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1)})
        url = f"/ui/jobs/{job['id']}/runs/{ex['id']}"
        page = await b.get(url)
        assert page.status_code == 200
        assert "host-a-4242-ab" in page.text and "Cancel run" in page.text
        assert "&lt;b&gt;step one&lt;/b&gt;" in page.text  # escaped
        token = csrf.search(page.text)
        assert token
        r = await b.post(f"{url}/cancel", data={"csrf": token.group(1)})
        assert r.status_code == 303
        bad = await b.post(f"{url}/cancel", data={"csrf": "forged"})
        assert bad.status_code in (400, 403)
        after = await b.get(url)
        assert "Cancelled" in after.text and "Cancel run" not in after.text
