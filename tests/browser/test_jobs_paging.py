"""The jobs table's pages in a real browser (issues 18 and 22), on a desktop and a 390-px
phone: Next and Previous move through the pages keeping the sort, the live refresh keeps the
page, and the pagination nav fits the phone without sideways scrolling."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.server import ServerProcess

from .test_dashboard import DESKTOP, PHONE, new_page, sign_in


@pytest.fixture(scope="module")
def many_jobs(server: ServerProcess) -> None:
    with server.client() as c:
        for i in range(55):
            r = c.post("/jobs/definition", json={"name": f"page-{i:02d}",
                                                 "schedule": "0 3 * * *"})
            assert r.status_code == 200, r.text


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_next_and_previous_keep_the_sort(
    browser: Any, server: ServerProcess, many_jobs: None, size: str
) -> None:
    viewport = DESKTOP if size == "desktop" else PHONE
    page = new_page(browser, viewport)
    try:
        sign_in(page, server.url, server.admin_key or "")
        page.goto(server.url + "/ui/jobs?sort=name&dir=desc")
        rows = page.locator("#jobs-table tbody tr a.jobname")
        expect(rows).to_have_count(50)
        expect(rows.first).to_have_text("page-54")
        pager = page.get_by_role("navigation", name="Pagination")
        expect(pager).to_contain_text("Jobs 1\u201350 of 55")
        pager.get_by_role("link", name="Next").click()
        expect(page).to_have_url(re.compile(r"sort=name&dir=desc&page=2$"))
        expect(rows).to_have_text([f"page-{i:02d}" for i in range(4, -1, -1)])
        expect(pager.get_by_role("link", name="Next")).to_have_count(0)
        # the live refresh (every 5 s) swaps the table in place and keeps the page
        with page.expect_response(re.compile(r"/ui/live/jobs\?.*page=2")) as got:
            pass
        assert got.value.status == 200
        expect(rows).to_have_count(5)
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        pager.get_by_role("link", name="Previous").click()
        expect(page).to_have_url(re.compile(r"/ui/jobs\?sort=name&dir=desc$"))
        expect(rows).to_have_count(50)
    finally:
        page.context.close()
