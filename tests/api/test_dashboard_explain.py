"""The job page answers "why did or didn't it run at this instant" (issue 19, item 5): the
same verdicts as GET /jobs/{id}/explain, a clear 400 on the page for a bad instant, and a
foreign job is a 404 like the rest of the dashboard."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def test_job_page_explains_an_instant(api: Api) -> None:
    job = await api.define(name="explained", schedule="0 2 * * *")
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        token = CSRF.search((await b.get("/ui/login")).text)
        assert token
        await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token.group(1)})
        page = await b.get(f"/ui/jobs/{job['id']}")
        assert "Why did or didn" in page.text and 'name="at"' in page.text

        at = "2031-01-01T02:00:00Z"  # a future fire time of "0 2 * * *"
        api_says = (await api.client.get(f"/jobs/{job['id']}/explain", params={"at": at},
                                         headers=api.admin)).json()
        page = await b.get(f"/ui/jobs/{job['id']}/explain", params={"at": at})
        assert page.status_code == 200
        assert 'id="explanation"' in page.text
        assert api_says["verdict"].replace("_", " ") in page.text
        assert "the schedule fires there" in page.text

        page = await b.get(f"/ui/jobs/{job['id']}/explain",
                           params={"at": "2031-01-01T02:30:00Z"})
        assert "the schedule does not fire there" in page.text

        bad = await b.get(f"/ui/jobs/{job['id']}/explain", params={"at": "yesterday"})
        assert bad.status_code == 400 and "is not an RFC 3339 instant" in bad.text
        assert 'id="explanation"' not in bad.text

        missing = await b.get("/ui/jobs/987654/explain", params={"at": at})
        assert missing.status_code == 404
