"""A viewer in a real browser (issue 22), on a desktop and on a 390-px phone: the job and run
pages offer no button the viewer role may not use (no POST form at all but signing out), the
line that says why is shown instead, and the navigation has no "New job". Real server
process, real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.support.server import ServerProcess

from .test_people_pages import (
    DESKTOP,
    PHONE,
    add_user,
    new_page,
    no_sideways_scroll,
    sign_in,
)

NEVER = "0 0 1 1 *"  # once a year: only runs we start ourselves
ACTIONS = ("Trigger now", "Pause", "Resume", "Mute notifications", "Edit settings", "Delete…",
           "Cancel run", "Save URL")


def test_a_viewer_sees_no_actions_and_why(server: ServerProcess, browser: Any,
                                          shots: Path) -> None:
    with server.client() as c:
        r = c.post("/jobs/definition", json={"name": "nightly-report", "schedule": NEVER,
                                             "webhook_url": "https://example.com/hook"})
        assert r.status_code == 200, r.text
        job_id = r.json()["id"]
        r = c.post("/jobs/definition", json={"name": "nightly-sdk", "schedule": NEVER})
        sdk_id = r.json()["id"]  # no worker: its run stays pending, so it could be cancelled
        r = c.post(f"/jobs/trigger/{sdk_id}")
        assert r.status_code == 200, r.text
        run_id = r.json()["id"]
    add_user(server, "vera@example.com", "viewer", "--env", "1", "--name", "Vera")
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = new_page(browser, viewport)
        sign_in(page, server.url, "vera@example.com")
        expect(page.get_by_text("vera@example.com (viewer)")).to_be_visible()
        main = page.get_by_role("navigation", name="Main")
        expect(main.get_by_role("link", name="Jobs")).to_be_visible()
        expect(main.get_by_role("link", name="New job")).to_have_count(0)

        page.goto(f"{server.url}/ui/jobs/{job_id}")
        expect(page.get_by_role("heading", name="nightly-report")).to_be_visible()
        note = page.get_by_role("note").filter(has_text="You have the viewer role")
        expect(note).to_be_visible()
        expect(note).to_contain_text("ask an admin of this environment for the operator role")
        for label in ACTIONS:
            expect(page.get_by_role("button", name=label)).to_have_count(0)
            expect(page.get_by_role("link", name=label)).to_have_count(0)
        # the only form that posts is signing out (and switching, with several environments)
        actions = page.eval_on_selector_all(
            "form[method=post]", "fs => fs.map(f => f.getAttribute('action'))")
        assert actions == ["/ui/logout"], actions
        if name == "phone":
            no_sideways_scroll(page)
        shots.joinpath(f"job-viewer-{name}.png").write_bytes(page.screenshot(full_page=True))

        page.goto(f"{server.url}/ui/jobs/{sdk_id}/runs/{run_id}")
        expect(page.get_by_role("note")).to_contain_text("to cancel this run")
        expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)

        page.goto(f"{server.url}/ui/new")
        expect(page.get_by_role("note")).to_contain_text("to create jobs")
        expect(page.get_by_role("button", name="Create job")).to_have_count(0)
        page.context.close()
