"""The jobs table's run strips (issue 22): each row shows the job's latest runs, oldest first,
one mark per run with its status as a class, a tooltip and a word for screen readers."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from schedo.server.domain.lifecycle import TickPlan
from schedo.server.domain.records import Job
from schedo.server.services import scheduling
from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
MARK = re.compile(r'<li class="mark [a-z]+ st-([a-z]+)" data-status="\1" '
                  r'title="Run (\d+): ([^"]+)"><a href="/ui/jobs/(\d+)/runs/\2" tabindex="-1">'
                  r'<span class="icon" aria-hidden="true">[^<]+</span>'
                  r'<span class="visually-hidden">([A-Za-z]+)'
                  r'</span></a></li>')


def _row(page: str, name: str) -> str:
    start = page.index(f">{name}</a>")
    return page[start : page.index("</tr>", start)]


async def test_jobs_table_shows_each_jobs_latest_runs_in_order(api: Api) -> None:
    h = api.admin
    job = await api.define(name="strip-job", max_retries=0, timeout_seconds=30)
    many = await api.define(name="strip-many", max_retries=0)
    jid = job["id"]

    async def trigger(job_id: int = jid) -> int:
        r = await api.client.post(f"/jobs/trigger/{job_id}", headers=h)
        assert r.status_code == 200, r.text
        return int(r.json()["id"])

    async def complete(run: int, success: bool) -> None:
        r = await api.client.post(f"/jobs/executions/complete/{run}", headers=h,
                                  json={"success": success, "error": None if success else "x"})
        assert r.status_code == 200, r.text

    await complete(await trigger(), True)  # completed
    await complete(await trigger(), False)  # failed
    await trigger()
    api.clock.advance(31)
    assert len(await api.svc.store.expire_overdue(api.clock.now())) == 1  # expired
    r = await api.client.post(f"/jobs/executions/{await trigger()}/cancel", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    running = await trigger()
    [got] = (await api.client.get("/jobs/executions?jobs=strip-job&wait=0", headers=h)).json()
    assert got["id"] == running  # running

    def plan(j: Job) -> TickPlan:  # a missed tick, recorded as skipped
        now = api.clock.now()
        return TickPlan(run=[], skipped_at=now, skipped_error="missed 1 scheduled run(s)",
                        next_run_at=now + timedelta(hours=1), caught_up=[])
    api.clock.advance(600)
    await scheduling.tick(api.svc, api.clock.now(), 10, plan)  # skipped
    await trigger()  # pending
    await api.define(name="strip-idle")  # defined after the tick: no runs
    for _ in range(23):  # more runs than a strip shows
        await trigger(many["id"])

    history = (await api.client.get(f"/jobs/executions/{jid}", headers=h)).json()
    expected = [(e["status"], e["id"]) for e in reversed(history)]  # oldest first

    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        token = CSRF.search((await b.get("/ui/login")).text)
        assert token
        await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1)})
        for url in ("/ui/jobs", "/ui/live/jobs"):
            page = await b.get(url)
            assert page.status_code == 200
            row = _row(page.text, "strip-job")
            assert 'aria-label="Last 7 runs of strip-job, oldest first"' in row
            marks = MARK.findall(row)
            assert [(s, int(i)) for s, i, _, _, _ in marks] == expected
            assert {s for s, *_ in marks} == {"completed", "failed", "expired", "cancelled",
                                              "running", "skipped", "pending"}
            assert all(int(j) == jid for *_, j, _ in marks)
            words = {s: (tip, word) for s, _, tip, _, word in marks}
            assert words["completed"][1] == "Succeeded" and words["failed"][1] == "Failed"
            assert words["skipped"][0].startswith("Skipped, for 2026-11-28 ")
            many_marks = MARK.findall(_row(page.text, "strip-many"))
            assert len(many_marks) == 20 and {s for s, *_ in many_marks} == {"pending"}
            newest = (await api.client.get(f"/jobs/executions/{many['id']}?limit=20",
                                           headers=h)).json()
            assert [int(i) for _, i, *_ in many_marks] == [e["id"] for e in reversed(newest)]
            assert "no runs yet" in _row(page.text, "strip-idle")
