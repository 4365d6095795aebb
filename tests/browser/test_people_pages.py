"""People in a real browser (issue 22), on a desktop and on a 390-px phone: the first admin
made with ``schedo user add`` signs in with email and password, invites nobody but changes
a colleague's role on the People page, sees the sessions, and the colleague's session ends
when it is revoked. Real server process, real Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.support.server import ServerProcess

WAIT_MS = 15_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
PASSWORD = "a long enough password"

expect.set_options(timeout=WAIT_MS)


def new_page(browser: Any, viewport: dict[str, int]) -> Page:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(WAIT_MS)
    page: Page = context.new_page()
    return page


def add_user(server: ServerProcess, email: str, role: str, *extra: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDO_")}
    done = subprocess.run(
        [sys.executable, "-m", "schedo.cli", "user", "add", email, "--role", role,
         "--db", server.db_url, *extra],
        env={**env, "SCHEDO_USER_PASSWORD": PASSWORD}, capture_output=True, text=True,
        timeout=60)
    assert done.returncode == 0, done


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/ui/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page scrolls sideways at phone width ({width}px)"


def test_people_on_desktop_and_phone(server: ServerProcess, browser: Any, shots: Path) -> None:
    base = server.url
    add_user(server, "ada@example.com", "admin", "--name", "Ada")
    add_user(server, "bob@example.com", "viewer", "--env", "1", "--name", "Bob")

    page = new_page(browser, DESKTOP)
    page.goto(base + "/ui/login")
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    shots.joinpath("login-password.png").write_bytes(page.screenshot(full_page=True))
    sign_in(page, base, "ada@example.com")
    expect(page.get_by_text("ada@example.com (admin)")).to_be_visible()

    bob = new_page(browser, PHONE)
    sign_in(bob, base, "bob@example.com")
    expect(bob).to_have_url(re.compile(r"/ui/$"))
    expect(bob.get_by_text("bob@example.com (viewer)")).to_be_visible()

    page.goto(base + "/ui/settings")
    page.get_by_role("link", name="People").first.click()
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    row = page.get_by_role("row").filter(has_text="bob@example.com")
    expect(row).to_contain_text("viewer in production")
    page.get_by_label("Role of bob@example.com").select_option("operator")
    row.get_by_role("button", name="Set role").click()
    expect(page.get_by_role("status")).to_contain_text("Role changed")
    expect(page.get_by_role("row").filter(has_text="bob@example.com")).to_contain_text(
        "operator in production")
    page.screenshot(path=str(shots / "people-desktop.png"), full_page=True)

    bob.reload()  # the new role counts from the next request on
    expect(bob.get_by_text("bob@example.com (operator)")).to_be_visible()
    bob.goto(base + "/ui/sessions")
    expect(bob.get_by_role("heading", name="Your sessions")).to_be_visible()
    no_sideways_scroll(bob)
    bob.screenshot(path=str(shots / "sessions-phone.png"), full_page=True)

    phone = new_page(browser, PHONE)
    sign_in(phone, base, "ada@example.com")
    phone.goto(base + "/ui/people")
    expect(phone.get_by_role("heading", name="Invite someone")).to_be_visible()
    no_sideways_scroll(phone)
    phone.screenshot(path=str(shots / "people-phone.png"), full_page=True)

    # the admin ends bob's session on the Sessions page: bob is signed out at once
    page.goto(base + "/ui/sessions")
    everyone = page.locator("#everyone")
    everyone.get_by_role("row").filter(has_text="bob@example.com").get_by_role(
        "button").click()
    expect(page.get_by_role("status")).to_contain_text("Session ended")
    bob.goto(base + "/ui/jobs")
    expect(bob).to_have_url(re.compile(r"/ui/login"))
