"""Accessibility and the health views in a real browser (issue 22): axe-core (bundled by
``axe-playwright-python``, runs offline) on every dashboard page — overview, jobs (sorted and
filtered), job, day, run, new job (also with errors), edit, settings, sign-in (also with an
error), explain (also refused), the 404 page — on a desktop and a 390-px phone, failing on any
serious or critical violation; the phone shows the first job row without scrolling; the sort
links, the tag filter and the day strip work with a mouse and a keyboard."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.server import ServerProcess

from .conftest import Receiver
from .test_dashboard import DESKTOP, PHONE, new_page, sign_in, snap

BLOCKING = ("serious", "critical")


def axe_problems(page: Page, where: str) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.response["passes"], f"{where}: axe checked nothing"
    out = []
    for v in results.response["violations"]:
        if v.get("impact") in BLOCKING:
            targets = [", ".join(n["target"]) for n in v["nodes"][:4]]
            out.append(f"{where}: {v['id']} ({v['impact']}): {v['help']} at {targets}")
    return out


@pytest.fixture(scope="module")
def seeded(server: ServerProcess, receiver: Receiver) -> Iterator[dict[str, Any]]:
    """Jobs of every kind with runs: succeeded, failed (a push to /fail), pending (an sdk job
    nothing serves), a tagged command job, a muted one."""
    ids: dict[str, Any] = {}
    with server.client() as c:
        for body in (
            {"name": "a11y-ok", "schedule": "0 3 * * *", "webhook_url": receiver.url + "/ok"},
            {"name": "a11y-fails", "schedule": "0 4 * * *",
             "webhook_url": receiver.url + "/fail"},
            {"name": "a11y-sdk", "schedule": "*/10 * * * *", "timeout_seconds": 600},
            {"name": "a11y-backup", "schedule": "0 1 * * *", "command": "pg_dump",
             "target": {"tags": ["db", "eu"], "mode": "any"}},
        ):
            r = c.post("/jobs/definition", json=body)
            assert r.status_code == 200, r.text
            ids[body["name"]] = r.json()["id"]
        for name in ("a11y-ok", "a11y-ok", "a11y-fails", "a11y-sdk"):
            assert c.post(f"/jobs/trigger/{ids[name]}").status_code == 200
        assert c.patch(f"/jobs/mute/{ids['a11y-backup']}", json={"muted": True}).status_code \
            == 200

        def ended() -> bool:
            got = c.get(f"/jobs/executions/{ids['a11y-fails']}").json()
            return bool(got) and got[0]["status"] == "failed"

        for _ in range(100):
            if ended():
                break
            import time
            time.sleep(0.1)
        first = c.get(f"/jobs/executions/{ids['a11y-fails']}").json()[0]
        ids["run"] = first["id"]
        # the run's UTC day (tests that run across midnight must not look at "today")
        ids["day"] = datetime.fromisoformat(first["scheduled_for"].replace("Z", "+00:00")) \
            .astimezone(UTC).date().isoformat()
    yield ids


def _pages(ids: dict[str, Any]) -> list[tuple[str, str]]:
    job, day = ids["a11y-fails"], ids["day"]
    return [
        ("overview", "/ui/"),
        ("jobs", "/ui/jobs"),
        ("jobs-sorted", "/ui/jobs?sort=duration&dir=desc&tag=db"),
        ("job", f"/ui/jobs/{job}"),
        ("day", f"/ui/jobs/{job}/days/{day}"),
        ("run", f"/ui/jobs/{job}/runs/{ids['run']}"),
        ("new", "/ui/new"),
        ("edit", f"/ui/jobs/{job}/edit"),
        ("settings", "/ui/settings"),
        ("explain", f"/ui/jobs/{job}/explain?at=2026-01-01T00:00:00Z"),
        ("explain-refused", f"/ui/jobs/{job}/explain?at=not-a-time"),
        ("bad-day", f"/ui/jobs/{job}/days/2026-02-30"),
        ("not-found", "/ui/jobs/999999"),
    ]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_page_passes_axe(
    browser: Any, server: ServerProcess, seeded: dict[str, Any], size: str
) -> None:
    page = new_page(browser, DESKTOP if size == "desktop" else PHONE)
    problems: list[str] = []
    try:
        page.goto(server.url + "/ui/login")
        problems += axe_problems(page, f"login ({size})")
        page.get_by_label("API key").fill("sk_wrong_key_0000000000000000000")
        page.get_by_role("button", name="Sign in with the key").click()
        expect(page.get_by_role("alert")).to_be_visible()
        problems += axe_problems(page, f"login-error ({size})")
        sign_in(page, server.url, server.admin_key or "")
        expect(page).not_to_have_url(re.compile("/ui/login"))
        for name, path in _pages(seeded):
            page.goto(server.url + path)
            expect(page.locator("main")).to_be_visible()
            problems += axe_problems(page, f"{name} ({size})")
        page.goto(server.url + "/ui/new")
        page.get_by_role("button", name="Create job").click()  # nothing filled in: errors
        expect(page.get_by_role("alert")).to_be_visible()
        problems += axe_problems(page, f"new-errors ({size})")
        assert not problems, "\n".join(problems)
    finally:
        page.context.close()


def test_the_checker_finds_what_it_should(
    browser: Any, server: ServerProcess, seeded: dict[str, Any]
) -> None:
    """The gate can fail: an input without a label and grey-on-grey text on a real page are
    reported as serious violations."""
    page = new_page(browser)
    try:
        sign_in(page, server.url, server.admin_key or "")
        page.goto(server.url + "/ui/jobs")
        page.evaluate("""() => {
            const m = document.querySelector('main');
            m.insertAdjacentHTML('beforeend',
              '<input type="text"><p id="faint">low contrast</p>');
            const faint = document.getElementById('faint');  // CSSOM: the CSP allows it
            faint.style.color = '#bbb';
            faint.style.background = '#ccc';
        }""")
        found = " ".join(axe_problems(page, "broken"))
        assert "label" in found and "color-contrast" in found, found
    finally:
        page.context.close()


def test_phone_shows_the_first_job_without_scrolling(
    browser: Any, server: ServerProcess, seeded: dict[str, Any], shots: Path
) -> None:
    page = new_page(browser, PHONE)
    try:
        sign_in(page, server.url, server.admin_key or "")
        page.goto(server.url + "/ui/jobs")
        first = page.locator("#jobs-table tbody tr").first.locator("a.jobname")
        expect(first).to_be_visible()
        box = first.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= PHONE["height"], f"first job at {box}"
        assert page.evaluate("window.scrollY") == 0
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"page scrolls sideways ({width}px)"
        page.goto(server.url + "/ui/")
        snap(page, shots, "overview-needs-phone")
        page.goto(f"{server.url}/ui/jobs/{seeded['a11y-fails']}")
        expect(page.locator("ol.days li")).to_have_count(30)
        wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
            .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)""")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], wide
    finally:
        page.context.close()


def test_sorting_tags_and_the_day_strip_by_mouse_and_keyboard(
    browser: Any, server: ServerProcess, seeded: dict[str, Any], shots: Path
) -> None:
    page = new_page(browser)
    try:
        sign_in(page, server.url, server.admin_key or "")
        page.goto(server.url + "/ui/jobs?q=a11y")
        rows = page.locator("#jobs-table tbody tr a.jobname")
        expect(rows).to_have_count(4)
        page.locator("#jobs-table thead").get_by_role("link", name=re.compile("^Name")).click()
        expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Name")
        expect(rows).to_have_text(["a11y-backup", "a11y-fails", "a11y-ok", "a11y-sdk"])
        header = page.locator("#jobs-table thead").get_by_role("link", name=re.compile("^Name"))
        header.focus()
        page.keyboard.press("Enter")
        expect(page.locator("th[aria-sort=descending]")).to_contain_text("Name")
        expect(rows).to_have_text(["a11y-sdk", "a11y-ok", "a11y-fails", "a11y-backup"])
        expect(page.get_by_label("Search")).to_have_value("a11y")  # the filter is kept
        page.get_by_label("Tag").select_option("db")
        expect(rows).to_have_text(["a11y-backup"])  # htmx swaps the table, sort kept
        page.get_by_label("Tag").select_option("")
        page.get_by_label("Sort by").select_option("status")
        page.get_by_label("Order").select_option("asc")
        expect(rows.first).to_have_text("a11y-fails")  # failing first
        expect(page.locator("#jobs-table td[data-label=Duration] .spark").first).to_be_visible()
        snap(page, shots, "jobs-sorted")

        page.goto(server.url + "/ui/")
        needs = page.get_by_role("region", name="What needs you now")
        expect(needs.locator("section", has=page.locator("#failing-h"))).to_contain_text(
            "a11y-fails")
        expect(needs.locator("section", has=page.locator("#muted-h"))).to_contain_text(
            "a11y-backup")
        snap(page, shots, "overview-needs")

        page.goto(f"{server.url}/ui/jobs/{seeded['a11y-fails']}")
        day = page.locator("ol.days li", has=page.locator(f"a[href$='/days/{seeded['day']}']"))
        expect(day).to_have_class(re.compile(r"\bbad\b"))
        expect(day.locator(".visually-hidden")).to_contain_text("1 failed")
        snap(page, shots, "job-days")
        day.locator("a").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Runs of a11y-fails")
        expect(page.locator("table.runs tbody tr")).to_have_count(1)
        snap(page, shots, "job-day")
    finally:
        page.context.close()
