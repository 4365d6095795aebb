"""Settings > Secrets in a real browser (issue 22), on a desktop and on a 390-px phone:
reveal the signing secret and copy it (the clipboard holds exactly the secret), rotate it
with a 1-hour overlap, reveal it in the new-job form's push section, and rotate the admin
key behind its confirm step: shown once with a copy button, the old key refused, this browser
still signed in. The API confirms each step; nothing scrolls sideways on the phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.server import ServerProcess

from .test_dashboard import DESKTOP, PHONE, WAIT_MS, sign_in, snap


def _page(browser: Any, base: str, viewport: dict[str, int]) -> Page:
    context = browser.new_context(viewport=viewport)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    context.set_default_timeout(WAIT_MS)
    page: Page = context.new_page()
    return page


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport and width <= viewport["width"], f"scrolls sideways ({width}px)"


def _clipboard(page: Page) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


def _signing_key(server: ServerProcess) -> str:
    with server.client() as c:
        return str(c.get("/org/environments/1/webhook-secret").json()["webhook_signature_key"])


def _rotate_signing_secret(page: Page, server: ServerProcess) -> None:
    old = _signing_key(server)
    page.get_by_role("button", name="Reveal the signing secret of production").click()
    field = page.get_by_label("Signing secret of production", exact=True)
    expect(field).to_have_value(old)
    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".copied")).to_have_text("Copied to the clipboard.")
    assert _clipboard(page) == old
    page.locator("summary", has_text="Rotate…").first.click()
    page.get_by_label("The old secret still signs for").first.select_option(label="1 hour")
    page.get_by_role("button", name="Rotate the secret of production").click()
    expect(page.get_by_role("status").first).to_contain_text("New webhook signing secret")
    new = _signing_key(server)
    assert new != old
    expect(page.get_by_label("Signing secret of production", exact=True)).to_have_value(new)
    expect(page.locator("#shown-secret")).to_contain_text("still signs beside it until")
    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".copied")).to_have_text("Copied to the clipboard.")
    assert _clipboard(page) == new
    expect(page.locator("table.secrets")).to_contain_text("previous secret signs too until")


def _rotate_admin_key(page: Page, server: ServerProcess) -> None:
    old = server.admin_key or ""
    page.locator("summary", has_text="Rotate the admin key…").click()
    submit = page.get_by_role("button", name="Rotate the admin key")
    submit.click()  # the box is not ticked: the browser does not send the form
    assert not page.locator("#shown-secret").count()
    page.get_by_label("The current admin key stops working now.").check()
    submit.click()
    shown = page.locator("#shown-secret")
    expect(shown).to_contain_text("it will not be shown again")
    new = page.get_by_label("New admin key").input_value()
    assert new and new != old
    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".copied")).to_have_text("Copied to the clipboard.")
    assert _clipboard(page) == new
    base = server.url
    assert httpx.get(base + "/org", headers={"x-api-key": old}).status_code == 401
    assert httpx.get(base + "/org", headers={"x-api-key": new}).status_code == 200
    server.admin_key = new  # the next steps (and the next size) use the new key
    page.goto(base + "/ui/settings")
    expect(page).to_have_url(re.compile(r"/ui/settings$"))  # still signed in
    expect(page.locator(".keyname")).to_contain_text("admin (rotated)")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_rotate_secrets_and_copy_them(
    browser: Any, server: ServerProcess, shots: Path, size: str
) -> None:
    base = server.url
    page = _page(browser, base, PHONE if size == "phone" else DESKTOP)
    sign_in(page, base, server.admin_key or "")
    expect(page).to_have_url(re.compile(r"/ui/$"))
    page.goto(base + "/ui/settings")
    page.get_by_role("link", name="Secrets").click()
    expect(page.get_by_role("heading", name="Webhook signing secrets")).to_be_visible()
    assert _signing_key(server) not in page.content()  # only on request
    _rotate_signing_secret(page, server)
    _no_sideways_scroll(page)
    snap(page, shots, f"secrets-rotated-{size}")

    page.goto(base + "/ui/new")
    page.get_by_role("radio", name="Push (webhook)").check()
    page.get_by_role("button", name="Reveal the signing secret").click()
    field = page.get_by_label("Signing secret of production", exact=True)
    expect(field).to_have_value(_signing_key(server))
    expect(page.locator("#push-secret").get_by_role("button", name="Copy")).to_be_visible()
    _no_sideways_scroll(page)

    page.goto(base + "/ui/settings/secrets")
    _rotate_admin_key(page, server)
    page.goto(base + "/ui/settings/secrets")
    _no_sideways_scroll(page)
    snap(page, shots, f"secrets-{size}")
    page.context.close()
