"""Found by trying the issue-22 dashboard as an outsider (review), in Chromium against a real
server: the jobs table's filters and sort, changed with the selects (htmx, the phone's way to
sort), are in the address bar, so a reload, the Back button or a shared link keeps them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.server import ServerProcess

from .test_dashboard import DESKTOP, PHONE, WAIT_MS, sign_in


def _define(server: ServerProcess) -> None:
    with server.client() as c:
        for name, tags in (("review-alpha", ["db"]), ("review-beta", ["web"]),
                           ("review-gamma", ["db", "eu"])):
            r = c.post("/jobs/definition", json={
                "name": name, "schedule": "0 3 * * *", "command": "true",
                "target": {"tags": tags, "mode": "any"}})
            assert r.status_code == 200, r.text


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_sort_and_filters_chosen_with_the_selects_survive_a_reload_and_back(
    browser: Any, server: ServerProcess, size: str,
) -> None:
    _define(server)
    base = server.url
    context = browser.new_context(viewport=PHONE if size == "phone" else DESKTOP)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    sign_in(page, base, server.admin_key or "")
    page.goto(base + "/ui/jobs?q=review&sort=name")
    page.locator("#sort").select_option("name")
    page.locator("#dir").select_option("desc")
    page.locator("#tag").select_option("db")
    expect(page).to_have_url(re.compile(r"dir=desc"))
    expect(page).to_have_url(re.compile(r"tag=db"))
    rows = page.locator("a.jobname")
    expect(rows).to_have_text(["review-gamma", "review-alpha"])
    page.reload()
    expect(rows).to_have_text(["review-gamma", "review-alpha"])
    expect(page.locator("#dir")).to_have_value("desc")
    expect(page.locator("#tag")).to_have_value("db")
    expect(page.locator("#q")).to_have_value("review")
    rows.first.click()
    expect(page).to_have_url(re.compile(r"/ui/jobs/\d+$"))
    page.go_back()
    expect(rows).to_have_text(["review-gamma", "review-alpha"])
    context.close()
