"""The audit log in the dashboard (issue 22): the job page lists the job's last changes, Settings
the environment's with a filter by action; a change made through the dashboard is recorded
with ``via dashboard`` and the signed-in key."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _token(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


async def test_job_page_and_settings_show_the_audit_log(api: Api) -> None:
    job = await api.define(name="audited-job", metadata={"team": "<b>ops</b>"})
    await api.define(name="audited-job", schedule="0 * * * *", metadata={"team": "<b>ops</b>"})
    other = await api.define(name="other-job")
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        token = _token(await b.get("/ui/login"))
        await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token})
        page = await b.get(f"/ui/jobs/{job['id']}")
        assert page.status_code == 200 and 'id="audit"' in page.text
        r = await b.post(f"/ui/jobs/{job['id']}/pause", data={"csrf": _token(page)})
        assert r.status_code == 303
        page = await b.get(f"/ui/jobs/{job['id']}")
        audit = page.text[page.text.index('id="audit"'):]
        audit = audit[:audit.index("</section>")]
        assert "paused" in audit and "via dashboard" in audit and "via api" in audit
        assert '<code>cron_expression</code>: "*/5 * * * *" → "0 * * * *"' in audit
        assert "\\u003cb\\u003eops" in audit  # JSON-escaped metadata
        assert "<b>ops</b>" not in page.text  # escaped, never markup
        assert "other-job" not in audit  # only this job's events

        page = await b.get("/ui/settings")
        assert page.status_code == 200
        audit = page.text[page.text.index('id="audit"'):]
        assert "other-job" in audit and "audited-job" in audit
        assert f'href="/ui/jobs/{other["id"]}"' in audit
        page = await b.get("/ui/settings?action=paused")
        audit = page.text[page.text.index('id="audit"'):]
        audit = audit[:audit.index("</section>")]
        assert "audited-job" in audit and "other-job" not in audit
        assert '<option value="paused" selected>' in audit
        page = await b.get("/ui/settings?action=bogus")  # an unknown action: every event
        assert page.status_code == 200 and "other-job" in page.text

    r = await api.client.get("/audit", params={"action": "paused"}, headers=api.admin)
    [ev] = r.json()
    assert ev["actor"]["via"] == "dashboard" and ev["actor"]["name"] == "admin"
