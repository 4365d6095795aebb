"""OIDC sign-in in a real browser (issue 22): Chromium goes from Schedo's login page to a real
provider (panva's oidc-provider, tests/support/oidc) on *another site* (``localhost`` while
Schedo is on ``127.0.0.1``), signs in there, and lands on the dashboard signed in, although the
session cookie is ``SameSite=Strict`` and the provider's redirect back is cross-site. A person
unknown to Schedo gets the login page with the reason and no session."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.oidc import running_provider
from tests.support.server import ServerProcess, free_port

WAIT_MS = 15_000
CLIENT_ID = "schedo-browser"
CLIENT_SECRET = secrets.token_urlsafe(24)

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    work = tmp_path_factory.mktemp("oidc-browser")
    port = free_port()
    with running_provider(CLIENT_ID, CLIENT_SECRET, [port], work / "provider.log",
                          host="localhost") as issuer:
        server = ServerProcess(f"sqlite:///{work / 'schedo.db'}", work, port=port, extra_env={
            "SCHEDO_PUBLIC_URL": f"http://127.0.0.1:{port}", "SCHEDO_OIDC_ISSUER": issuer,
            "SCHEDO_OIDC_CLIENT_ID": CLIENT_ID, "SCHEDO_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "SCHEDO_OIDC_NAME": "Example SSO"}).start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDO_")}
        done = subprocess.run(
            [sys.executable, "-m", "schedo.cli", "user", "add", "ada@example.com", "--role",
             "admin", "--db", server.db_url], env={**env, "SCHEDO_USER_PASSWORD": "x" * 12},
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done
        try:
            yield server
        finally:
            server.stop()


def _at_provider(page: Page, base: str, login: str) -> None:
    page.goto(base + "/ui/login?next=/ui/jobs")
    page.get_by_role("link", name="Sign in with Example SSO").click()
    expect(page).to_have_url(re.compile(r"^http://localhost:\d+/interaction/"))
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("anything")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_sign_in_with_the_provider_lands_on_the_dashboard(
        sso_server: ServerProcess, browser: Any, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page: Page = context.new_page()
    _at_provider(page, sso_server.url, "ada@example.com")
    expect(page).to_have_url(f"{sso_server.url}/ui/jobs")
    expect(page.get_by_text("ada@example.com").first).to_be_visible()
    page.screenshot(path=str(shots / "login-oidc-done.png"))
    page.goto(sso_server.url + "/ui/sessions")  # the session is a user's, listed there
    expect(page.locator("main")).to_contain_text("ada@example.com")
    context.close()


def test_an_unknown_person_is_told_and_not_signed_in(
        sso_server: ServerProcess, browser: Any) -> None:
    context = browser.new_context()
    page: Page = context.new_page()
    _at_provider(page, sso_server.url, "eve@example.com")
    expect(page.get_by_role("alert")).to_contain_text("No Schedo account")
    assert not [c for c in context.cookies() if c["name"] == "schedo_session"]
    page.goto(sso_server.url + "/ui/jobs")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    context.close()
