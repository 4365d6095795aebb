"""The job forms in a real browser (issue 22), on a desktop and on a 390-px phone: create a
command job (a mistyped zone is refused with "did you mean", the typed values kept), and edit
an SDK job's schedule from its page (which says the job is owned by code). The API confirms
both; the form never scrolls sideways on the phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.server import ServerProcess

from .test_dashboard import DESKTOP, PHONE, new_page, sign_in, snap


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport and width <= viewport["width"], f"scrolls sideways ({width}px)"


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_create_a_command_job_and_edit_an_sdk_job(
    browser: Any, server: ServerProcess, shots: Path, size: str
) -> None:
    base = server.url
    page = new_page(browser, PHONE if size == "phone" else DESKTOP)
    sign_in(page, base, server.admin_key or "")
    expect(page).to_have_url(re.compile(r"/ui/$"))

    # -- a command job -------------------------------------------------------------------------
    page.goto(base + "/ui/new")
    page.get_by_role("radio", name="Command (agent)").check()
    expect(page.get_by_label("Webhook URL")).to_be_hidden()  # only the chosen type's fields
    page.get_by_label("Name", exact=True).fill(f"backup-{size}")
    page.get_by_label("Shell command").fill("pg_dump app > /backups/app.sql")
    page.get_by_label("Target host (optional)").fill("db1")
    page.get_by_label("Cron expression").fill("30 2 * * *")
    page.get_by_label("Time zone").fill("Europe/Berln")
    page.get_by_label("Retries").fill("200")
    _no_sideways_scroll(page)
    page.get_by_role("button", name="Create job").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("2 fields to fix")
    expect(page.locator("#timezone-error")).to_contain_text("Did you mean Europe/Berlin?")
    expect(page.locator("#max_retries-error")).to_contain_text("between 0 and 100")
    expect(page.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Shell command")).to_have_value("pg_dump app > /backups/app.sql")
    expect(page.get_by_label("Target host (optional)")).to_have_value("db1")
    _no_sideways_scroll(page)
    snap(page, shots, f"job-form-errors-{size}")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Retries").fill("2")
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_role("status")).to_contain_text("Job created")
    expect(page.locator("dl.settings")).to_contain_text("pg_dump app")
    job_id = int(page.url.split("/ui/jobs/")[1].split("?")[0])
    with server.client() as c:
        job = c.get(f"/jobs/{job_id}").json()["job"]
    assert job["type"] == "command" and job["target"] == {"host": "db1"}
    assert job["timezone"] == "Europe/Berlin" and job["max_retries"] == 2

    # -- edit an sdk job's schedule --------------------------------------------------------------
    with server.client() as c:
        r = c.post("/jobs/definition", json={"name": f"worker-job-{size}",
                                             "schedule": "*/10 * * * *",
                                             "timezone": "America/New_York"})
        assert r.status_code == 200
        sdk_id = r.json()["id"]
    page.goto(f"{base}/ui/jobs/{sdk_id}")
    expect(page.locator("#job-summary")).to_contain_text("UTC (")  # its zone beside UTC
    page.get_by_role("link", name="Edit settings").click()
    expect(page.locator("#owned-by-code")).to_contain_text("next worker start")
    expect(page.get_by_label("Cron expression")).to_have_value("*/10 * * * *")
    _no_sideways_scroll(page)
    page.get_by_label("Cron expression").fill("0 6 * * 1-5")
    expect(page.locator("#preview")).to_contain_text("Monday through Friday")
    snap(page, shots, f"job-form-edit-{size}")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved")
    expect(page.locator("dl.settings")).to_contain_text("0 6 * * 1-5")
    snap(page, shots, f"job-edited-{size}")
    with server.client() as c:
        job = c.get(f"/jobs/{sdk_id}").json()["job"]
    assert job["cron_expression"] == "0 6 * * 1-5" and job["type"] == "sdk"
    assert job["timezone"] == "America/New_York"
    page.context.close()
