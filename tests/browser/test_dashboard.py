"""The dashboard in a real browser against a real server (SPEC 5, issue 8).

One walk through the main flow: a wrong key is refused, sign in, create a push job and watch it
run against a loopback receiver (the page refreshes itself), pause it, trigger it, read a failed
run's error, filter the jobs table, switch environments, create and revoke a key (the revoked
key's open session ends at once), sign out. Screenshots of every main page are taken on the way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.support.server import ServerProcess

from .conftest import Receiver

WAIT_MS = 15_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
expect.set_options(timeout=WAIT_MS)


def new_page(browser: Any, viewport: dict[str, int] = DESKTOP) -> Page:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(WAIT_MS)
    page: Page = context.new_page()
    return page


def sign_in(page: Page, base: str, key: str) -> None:
    page.goto(base + "/ui/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()


def snap(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def seed(server: ServerProcess, receiver: Receiver) -> None:
    """A few more jobs, so the tables look like a real environment."""
    with server.client() as c:
        for body in (
            {"name": "nightly-report", "schedule": "0 2 * * *", "timezone": "Europe/Berlin"},
            {
                "name": "invoice-sync",
                "schedule": "*/15 * * * *",
                "webhook_url": receiver.url + "/ok",
                "timezone": "America/New_York",
            },
            {"name": "weekly-cleanup", "schedule": "0 4 * * 0", "max_retries": 2},
        ):
            assert c.post("/jobs/definition", json=body).status_code == 200


def test_root_redirects_browsers_only(server: ServerProcess) -> None:
    r = httpx.get(server.url + "/", headers={"accept": "text/html"})
    assert r.status_code == 302 and r.headers["location"] == "/ui/"
    r = httpx.get(server.url + "/", headers={"accept": "application/json"})
    assert r.status_code == 404 and "message" in r.json()
    # the API is untouched
    assert httpx.get(server.url + "/jobs", headers=server.headers).status_code == 200


def test_forms_need_the_session_and_its_csrf_token(browser: Any, server: ServerProcess) -> None:
    # no session: a POST goes to the sign-in page, nothing happens
    r = httpx.post(server.url + "/ui/jobs/1/pause", data={"csrf": "x"})
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
    page = new_page(browser)
    sign_in(page, server.url, server.admin_key or "")
    expect(page.get_by_role("heading", name=re.compile("Overview"))).to_be_visible()
    # with the session cookie but without the form's token: refused
    r2 = page.request.post(server.url + "/ui/settings/environments", form={"name": "evil"})
    assert r2.status == 403
    r3 = page.request.post(
        server.url + "/ui/settings/environments", form={"name": "evil", "csrf": "forged"}
    )
    assert r3.status == 403
    with server.client() as c:
        assert "evil" not in [e["name"] for e in c.get("/org/environments").json()]
    # the cookie is HttpOnly and SameSite=Strict
    [cookie] = [c for c in page.context.cookies() if c["name"] == "schedo_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.context.close()


def test_link_from_another_site_keeps_the_session(
    browser: Any, server: ServerProcess, receiver: Receiver
) -> None:
    """SameSite=Strict cookies are not sent on a navigation from another site (a link in a
    notification email); the dashboard reloads once from its own origin to pick them up."""
    page = new_page(browser)
    sign_in(page, server.url, server.admin_key or "")
    expect(page.get_by_role("heading", name=re.compile("Overview"))).to_be_visible()
    target = server.url + "/ui/settings"
    # localhost and 127.0.0.1 are different sites
    page.goto(f"http://localhost:{receiver.port}/link?to={target}")
    page.locator("#go").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/ui/settings"))
    page.context.close()


def test_dashboard_flow(
    browser: Any, server: ServerProcess, receiver: Receiver, shots: Path
) -> None:
    base = server.url
    seed(server, receiver)
    page = new_page(browser)

    # -- a wrong key is refused --------------------------------------------------------------
    page.goto(base + "/")  # browsers are sent to the dashboard, then to sign in
    expect(page).to_have_url(re.compile(r"/ui/login"))
    expect(page.get_by_label("API key")).to_be_focused()
    snap(page, shots, "login")
    page.get_by_label("API key").fill("sk_not_a_real_key_000000000000000")
    page.get_by_role("button", name="Sign in with the key").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown or has been revoked")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.goto(base + "/ui/jobs")
    expect(page).to_have_url(re.compile(r"/ui/login"))

    # -- sign in (keyboard only) -------------------------------------------------------------
    page.get_by_label("API key").fill(server.admin_key or "")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ui/jobs$"))  # back where we wanted to go
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

    # -- create a push job, with the live schedule preview -----------------------------------
    page.get_by_role("link", name="New job").click()
    page.get_by_label("Name", exact=True).fill("ping-receiver")
    page.get_by_label("Webhook URL").fill(receiver.url + "/ok")
    page.get_by_role("button", name="Weekdays at 09:00").click()
    expect(page.get_by_label("Cron expression")).to_have_value("0 9 * * 1-5")
    expect(page.locator("#preview")).to_contain_text("Monday through Friday")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    expect(page.locator("#preview")).to_contain_text("Europe/Berlin")
    expect(page.locator("#preview li")).to_have_count(5)
    snap(page, shots, "new-job")
    page.get_by_label("Cron expression").fill("0 25 * * *")
    expect(page.locator("#preview")).to_contain_text("hour field")
    # a bad value is a clear message on the form, not an error page
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_role("alert")).to_contain_text("schedule: hour field")
    expect(page.get_by_label("Cron expression")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Cron expression").fill("*/2 * * * * *")  # every 2 seconds
    page.get_by_label("Time zone").fill("UTC")
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_role("status")).to_contain_text("Job created")
    job_url = page.url.split("?")[0]

    # -- it runs against the receiver; the page refreshes by itself ---------------------------
    runs = page.locator("#runs tbody tr")
    expect(runs.filter(has_text="Succeeded").nth(2)).to_be_visible()  # three runs by now
    assert receiver.hits.get("/ok", 0) >= 1
    expect(page.locator("#job-summary")).to_contain_text("Succeeded")

    # -- pause it -------------------------------------------------------------------------------
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_contain_text("Job paused")
    expect(page.locator("#job-summary")).to_contain_text("Paused")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(page.locator("#job-summary")).to_contain_text("none while paused")

    # -- trigger it (a manual run while paused) ------------------------------------------------
    page.get_by_role("button", name="Trigger now").click()
    expect(page.get_by_role("status")).to_contain_text("Run started")
    manual = runs.filter(has_text="manual").filter(has_text="Succeeded")
    expect(manual.first).to_be_visible()
    page.get_by_role("button", name="Mute notifications").click()
    expect(page.locator("#job-summary")).to_contain_text("Muted")
    expect(page.locator("figure.chart svg rect.bar").first).to_be_visible()
    snap(page, shots, "job")

    # -- a failing job: read the run's error ------------------------------------------------------
    page.goto(base + "/ui/new")
    page.get_by_label("Name", exact=True).fill("always-fails")
    page.get_by_label("Webhook URL").fill(receiver.url + "/fail")
    page.get_by_label("Cron expression").fill("0 0 1 1 *")
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_role("status")).to_contain_text("Job created")
    page.get_by_role("button", name="Trigger now").click()
    failed = page.locator("#runs tbody tr").filter(has_text="Failed").first
    expect(failed).to_contain_text("webhook answered HTTP 500")
    failed.get_by_text(re.compile(r"Show (full )?error")).click()
    expect(failed.locator("pre.error")).to_contain_text("receiver says no")
    failed.get_by_role("link", name=re.compile(r"#\d+")).click()
    expect(page.get_by_role("heading", name=re.compile(r"Run #\d+"))).to_be_visible()
    expect(page.locator("pre.error")).to_contain_text("webhook answered HTTP 500")

    # -- overview and jobs table, with search and filters ----------------------------------------
    page.get_by_role("link", name="Overview").click()
    expect(page.locator(".stat").nth(2)).to_contain_text("1")  # failing
    expect(page.locator("#overview")).to_contain_text("always-fails")
    snap(page, shots, "overview")
    page.get_by_role("link", name="Jobs", exact=True).click()
    table = page.locator("#jobs-table tbody tr")
    expect(table).to_have_count(5)
    snap(page, shots, "jobs")
    page.get_by_label("Search").fill("receiver")
    expect(table).to_have_count(1)
    expect(table.first).to_contain_text("Paused")
    page.get_by_label("Search").fill("")
    page.get_by_label("Status").select_option("failed")
    expect(table).to_have_count(1)
    expect(table.first).to_contain_text("always-fails")
    page.get_by_label("Status").select_option("")
    page.get_by_label("Type").select_option("sdk")
    expect(table).to_have_count(2)

    phone = new_page(browser, PHONE)
    sign_in(phone, base, server.admin_key or "")
    phone.goto(base + "/ui/jobs")
    expect(phone.locator("#jobs-table tbody tr")).to_have_count(5)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page scrolls sideways at phone width ({width}px)"
    snap(phone, shots, "jobs-phone")
    phone.context.close()

    # -- settings: environments, keys (shown once, revoke), emails ---------------------------------
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("New environment").fill("staging")
    page.get_by_role("button", name="Create environment").click()
    expect(page.get_by_role("status")).to_contain_text("Environment created")
    page.get_by_label("Add an address").fill("ops@example.com")
    page.get_by_role("button", name="Add address").click()
    expect(page.locator("#emails")).to_contain_text("ops@example.com")
    page.get_by_label("Add an address").fill("ops@localhost")  # the browser accepts it
    page.get_by_role("button", name="Add address").click()
    expect(page.locator("#emails [role=alert]")).to_contain_text("not a well-formed")

    page.get_by_label("New key name").fill("ci-deploy")
    page.get_by_role("button", name="Create key").click()
    new_key = page.get_by_label("New API key").input_value()
    assert new_key.startswith("sk_")
    expect(page.locator("#notifications")).to_contain_text("always-fails")
    snap(page, shots, "settings")
    page.goto(base + "/ui/settings")  # shown once: not on the page any more
    expect(page.get_by_label("New API key")).to_have_count(0)

    other = new_page(browser)  # a second browser session, signed in with the new key
    sign_in(other, base, new_key)
    expect(other.get_by_role("heading", name=re.compile("Overview"))).to_be_visible()
    expect(other.locator("header")).to_contain_text("ci-deploy")
    expect(other.locator("#env-select")).to_have_count(0)  # environment keys cannot switch

    page.locator("#keys tr", has_text="ci-deploy").get_by_text("Revoke…").click()
    page.get_by_role("button", name="Revoke key ci-deploy").click()
    expect(page.get_by_role("status")).to_contain_text("Key revoked")
    expect(page.locator("#keys tr", has_text="ci-deploy")).to_contain_text("Revoked")

    other.goto(base + "/ui/jobs")  # revocation ends the open session at once
    expect(other).to_have_url(re.compile(r"/ui/login"))
    sign_in(other, base, new_key)
    expect(other.get_by_role("alert")).to_contain_text("unknown or has been revoked")
    other.context.close()

    # -- environment switcher (admin keys) ---------------------------------------------------
    page.get_by_label("Environment", exact=True).select_option(label="staging")
    page.get_by_role("button", name="Switch").click()
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page.locator("#jobs-table")).to_contain_text("No jobs yet")
    page.get_by_label("Environment", exact=True).select_option(label="production")
    page.get_by_role("button", name="Switch").click()
    page.goto(job_url)
    expect(page.get_by_role("heading", name="ping-receiver")).to_be_visible()

    # -- delete with confirmation, then sign out -------------------------------------------------
    page.get_by_text("Delete…").click()
    page.get_by_role("button", name="Delete ping-receiver permanently").click()
    expect(page.get_by_role("status")).to_contain_text("Job deleted")
    expect(page.locator("#jobs-table")).not_to_contain_text("ping-receiver")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/login"))
    expect(page.get_by_role("status")).to_contain_text("signed out")
    page.goto(job_url)
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.context.close()
