"""Found by trying the issue-22 dashboard as an outsider (review): each test is a bug that
was there, in-process over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import httpx
import pytest

from schedo.server.services import dashboard
from tests.api.test_dashboard_views import browser, run_for
from tests.conftest import Api


async def test_a_day_with_exactly_the_listed_number_of_runs_is_not_said_to_have_more(
    api: Api, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A day page lists at most DAY_RUNS runs; with exactly that many it said "3+ runs" and
    "Only the latest 3 runs of the day are listed" although none was left out."""
    monkeypatch.setattr(dashboard, "DAY_RUNS", 3)
    job = await api.define(name="counted", max_retries=0)
    for _ in range(3):
        await run_for(api, job, 10)
    day = api.clock.now().date().isoformat()
    async with browser(api) as b:
        page = (await b.get(f"/ui/jobs/{job['id']}/days/{day}")).text
        assert ">3 runs<" in page and "Only the latest" not in page
        assert len(re.findall(r'<tr class="run-', page)) == 3
        await run_for(api, job, 10)
        page = (await b.get(f"/ui/jobs/{job['id']}/days/{day}")).text
        assert ">3+ runs<" in page and "Only the latest 3 runs of the day" in page
        assert len(re.findall(r'<tr class="run-', page)) == 3


async def test_the_filter_forms_answer_puts_the_filters_in_the_address_bar(api: Api) -> None:
    """The jobs filters and the phone's Sort by/Order selects answer through htmx at
    /ui/live/jobs: the answer names the /ui/jobs URL of what it shows (HX-Replace-Url), so a
    reload or Back does not return to the filters the page was opened with. Values the page
    ignores are left out of it."""
    await api.define(name="tagged", command="true", target={"tags": ["db"], "mode": "any"})
    async with browser(api) as b:
        r = await b.get("/ui/live/jobs", params={"q": "t a&g", "status": "bogus", "tag": "db",
                                                "sort": "name", "dir": "desc", "type": ""},
                        headers={"hx-request": "true"})
        assert r.status_code == 200
        assert r.headers["hx-replace-url"] == "/ui/jobs?q=t+a%26g&tag=db&sort=name&dir=desc"
        r = await b.get("/ui/live/jobs", params={"sort": "\x00", "dir": "up", "tag": "nope"},
                        headers={"hx-request": "true"})
        assert r.headers["hx-replace-url"] == "/ui/jobs"
        assert "hx-replace-url" not in (await b.get("/ui/live/jobs")).headers


async def test_the_address_of_a_secret_answer_opened_again_leads_back_to_the_page(
    api: Api,
) -> None:
    """A reveal or a rotation answers at its POST address (/ui/settings/secrets/1/rotate):
    opening that address again (Enter in the address bar, a new tab, the history) was a bare
    JSON 405 {"message": "Method Not Allowed"}; it leads to Settings > Secrets, changing
    nothing and showing no secret."""
    before = (await api.client.get("/org/environments/1/webhook-secret",
                                   headers=api.admin)).json()
    async with browser(api) as b:
        for path in ("/ui/settings/secrets/1/reveal", "/ui/settings/secrets/1/rotate",
                     "/ui/settings/admin-key/rotate", "/ui/settings/secrets/999/rotate"):
            r = await b.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/ui/settings/secrets", (
                path, r.status_code, r.text[:200])
    after = (await api.client.get("/org/environments/1/webhook-secret",
                                  headers=api.admin)).json()
    assert after == before
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as anonymous:
        r = await anonymous.get("/ui/settings/secrets/1/rotate?_b=1")  # after the bounce
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
