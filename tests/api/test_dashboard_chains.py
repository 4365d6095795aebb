"""The dashboard shows chains (issue 21): the job page lists the jobs a job runs after and
before, linked; the run page lists a run's causes and effects, linked."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def _done(api: Api, job_id: int) -> dict:
    run = (await api.client.post(f"/jobs/trigger/{job_id}", headers=api.admin)).json()
    api.clock.advance(1)
    r = await api.client.post(f"/jobs/executions/complete/{run['id']}",
                              json={"success": True}, headers=api.admin)
    return r.json()


async def test_job_and_run_pages_show_the_chain(api: Api) -> None:
    extract = await api.define(name="extract")
    load = await api.define(name="load", after={"jobs": ["extract"], "within_seconds": 600})
    plain = await api.define(name="plain-job")
    up = await _done(api, extract["id"])
    [down] = (await api.client.get(f"/jobs/executions/{load['id']}", headers=api.admin)).json()
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        token = CSRF.search((await b.get("/ui/login")).text)
        assert token
        await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1)})

        page = (await b.get(f"/ui/jobs/{load['id']}")).text
        assert 'id="chain-h"' in page and "Runs after" in page
        assert f'<a href="/ui/jobs/{extract["id"]}">extract</a>' in page
        assert "of each other" in page
        page = (await b.get(f"/ui/jobs/{extract['id']}")).text
        assert "Runs before" in page and f'<a href="/ui/jobs/{load["id"]}">load</a>' in page
        assert 'id="chain-h"' not in (await b.get(f"/ui/jobs/{plain['id']}")).text

        page = (await b.get(f"/ui/jobs/{load['id']}/runs/{down['id']}")).text
        assert "Caused by" in page
        assert f'href="/ui/jobs/{extract["id"]}/runs/{up["id"]}">extract #{up["id"]}</a>' in page
        page = (await b.get(f"/ui/jobs/{extract['id']}/runs/{up['id']}")).text
        assert "Caused</dt>" in page
        assert f'href="/ui/jobs/{load["id"]}/runs/{down["id"]}">load #{down["id"]}</a>' in page

        # a job whose upstream was deleted names it as missing
        await api.client.delete(f"/jobs/{extract['id']}", headers=api.admin)
        page = (await b.get(f"/ui/jobs/{load['id']}")).text
        assert "no such job now" in page
