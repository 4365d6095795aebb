"""The dashboard's HTTP behaviour without a browser: sessions, CSRF, errors as pages (never a
500 or a JSON body), tenant isolation. In-process app on a real database, fake clock."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from schedo.server.config import Settings
from schedo.server.runtime.clock import FakeClock
from schedo.server.services.context import Services
from schedo.server.web import session
from tests.conftest import ADMIN_KEY, START
from tests.support.inprocess import in_process

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Ui:
    app_client: httpx.AsyncClient
    svc: Services
    clock: FakeClock

    def browser(self) -> httpx.AsyncClient:
        """A fresh client with its own cookie jar (one browser)."""
        return httpx.AsyncClient(
            transport=self.app_client._transport, base_url="http://schedo.test"
        )

    async def sign_in(self, client: httpx.AsyncClient, key: str = ADMIN_KEY) -> httpx.Response:
        page = await client.get("/ui/login")
        token = CSRF.search(page.text)
        assert token, page.text
        return await client.post("/ui/login", data={"api_key": key, "csrf": token.group(1)})

    async def csrf(self, client: httpx.AsyncClient, path: str = "/ui/settings") -> str:
        r = await client.get(path)
        assert r.status_code == 200, r.text
        m = CSRF.search(r.text)
        assert m
        return m.group(1)


@pytest.fixture
async def ui(db_url: str) -> AsyncIterator[Ui]:
    settings = Settings(database_url=db_url, admin_key=ADMIN_KEY, allow_private_webhooks=True)
    async with in_process(settings, FakeClock(START)) as (app, c):
        yield Ui(app_client=c, svc=app.state.services, clock=app.state.services.clock)


async def define(ui: Ui, key: str = ADMIN_KEY, **body: object) -> dict[str, object]:
    body.setdefault("schedule", "*/5 * * * *")
    r = await ui.app_client.post("/jobs/definition", json=body, headers={"x-api-key": key})
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


async def test_sign_in_sets_a_strict_httponly_cookie_and_wrong_keys_are_refused(ui: Ui) -> None:
    async with ui.browser() as b:
        r = await ui.sign_in(b, "sk_wrong_key_000000000000000000")
        assert r.status_code == 401 and "unknown or has been revoked" in r.text
        r = await ui.sign_in(b)
        assert r.status_code == 303 and r.headers["location"] == "/ui/"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
        assert ADMIN_KEY not in r.headers["set-cookie"]  # the key itself is never in the cookie
        assert (await b.get("/ui/")).status_code == 200


async def test_failed_sign_ins_are_limited_per_address(db_url: str) -> None:
    """The API's limit on failed authentications per client address covers the sign-in form:
    once over it, even the right key is refused with 429 until the window passes."""
    settings = Settings(database_url=db_url, admin_key=ADMIN_KEY, auth_failure_limit=3)
    async with in_process(settings, FakeClock(START)) as (app, c):
        ui = Ui(app_client=c, svc=app.state.services, clock=app.state.services.clock)
        async with ui.browser() as b:
            for _ in range(3):
                wrong = await ui.sign_in(b, "sk_wrong_key_000000000000000000")
                assert wrong.status_code == 401
            r = await ui.sign_in(b)
            assert r.status_code == 429 and "Too many failed sign-ins" in r.text
            assert int(r.headers["retry-after"]) >= 1
        other = httpx.ASGITransport(app=app, client=("10.1.2.3", 40000))
        async with httpx.AsyncClient(transport=other, base_url="http://schedo.test") as b2:
            assert (await ui.sign_in(b2)).status_code == 303  # other addresses sign in


async def test_login_form_needs_its_double_submit_token(ui: Ui) -> None:
    async with ui.browser() as b:
        r = await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": "guess"})
        assert r.status_code == 400 and "expired" in r.text
        assert session.COOKIE not in b.cookies


async def test_forged_or_expired_cookies_are_refused(ui: Ui) -> None:
    secret = session.secret(ui.svc)
    record = await ui.svc.store.find_key(ADMIN_KEY[:16])
    assert record is not None
    good = session.new_token(record, None, time.time())
    raw = session.encode(secret, good)
    assert session.decode(secret, raw, time.time()) == good
    assert session.decode(secret, raw[:-2] + "xx", time.time()) is None  # signature
    assert session.decode(b"other-server-secret", raw, time.time()) is None
    assert session.decode(secret, raw, time.time() + session.TTL_SECONDS + 1) is None
    assert session.decode(secret, "not.a.token", time.time()) is None
    assert session.csrf_ok(secret, good.nonce, session.csrf_for(secret, good.nonce))
    assert not session.csrf_ok(secret, good.nonce, session.csrf_for(secret, "other"))
    async with ui.browser() as b:
        b.cookies.set(session.COOKIE, raw[:-2] + "xx", domain="schedo.test", path="/ui")
        r = await b.get("/ui/jobs")
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")


async def test_every_post_checks_the_csrf_token(ui: Ui) -> None:
    job = await define(ui, name="csrf-job", webhook_url="http://127.0.0.1:9/x")
    async with ui.browser() as b:
        await ui.sign_in(b)
        for path in (
            f"/ui/jobs/{job['id']}/pause",
            f"/ui/jobs/{job['id']}/delete",
            "/ui/settings/keys",
            "/ui/settings/environments",
            "/ui/settings/emails",
            "/ui/settings/channels",
            "/ui/settings/channels/1/delete",
            "/ui/new",
            "/ui/env",
            "/ui/logout",
        ):
            r = await b.post(path, data={"csrf": "forged", "name": "x", "env_id": "1"})
            assert r.status_code == 403, (path, r.status_code)
            assert "text/html" in r.headers["content-type"]
        got = await ui.app_client.get(f"/jobs/{job['id']}", headers={"x-api-key": ADMIN_KEY})
        assert got.json()["job"]["paused"] is False
        token = await ui.csrf(b)
        r = await b.post(f"/ui/jobs/{job['id']}/pause", data={"csrf": token})
        assert r.status_code == 303
        got = await ui.app_client.get(f"/jobs/{job['id']}", headers={"x-api-key": ADMIN_KEY})
        assert got.json()["job"]["paused"] is True


async def test_bad_input_is_a_page_never_a_500(ui: Ui) -> None:
    async with ui.browser() as b:
        await ui.sign_in(b)
        for path in (
            "/ui/jobs/abc",
            "/ui/jobs/0",
            "/ui/jobs/99999999999",
            "/ui/jobs/999",
            "/ui/jobs/1/runs/x",
            "/ui/jobs/999/runs/5",
            "/ui/jobs/999/live",
            "/ui/jobs?status=bogus&type=zzz&q=" + "x" * 5000,
            "/ui/new/preview?schedule=0+24+*+*+*",
            "/ui/new/preview?timezone=Mars/Base",
        ):
            r = await b.get(path)
            assert r.status_code in (200, 404), (path, r.status_code)
            assert "text/html" in r.headers["content-type"], path
        token = await ui.csrf(b)
        cases = [
            {"name": "ab", "webhook_url": "http://127.0.0.1:9/x", "schedule": "* * * * *"},
            {"name": "okay-name", "webhook_url": "ftp://x", "schedule": "* * * * *"},
            {"name": "okay-name", "webhook_url": "http://127.0.0.1:9/x", "schedule": "nope"},
            {
                "name": "okay-name",
                "webhook_url": "http://127.0.0.1:9/x",
                "schedule": "* * * * *",
                "timeout_seconds": "-5",
            },
            {
                "name": "okay-name",
                "webhook_url": "http://127.0.0.1:9/x",
                "schedule": "* * * * *",
                "max_retries": "1000",
            },
            {
                "name": "okay-name",
                "webhook_url": "http://127.0.0.1:9/x",
                "schedule": "* * * * *",
                "timezone": "Nowhere/City",
            },
            {},
        ]
        for case in cases:
            data = {"timeout_seconds": "60", "max_retries": "0", **case, "csrf": token}
            r = await b.post("/ui/new", data=data)
            assert r.status_code == 400, (case, r.status_code)
            assert 'role="alert"' in r.text and "Not created" in r.text
        r = await b.post("/ui/settings/environments", data={"csrf": token, "name": ""})
        assert r.status_code == 400 and "name: must not be empty" in r.text
        # an error page shows no signing secret (the 200 page does, to admins)
        sig = (await ui.svc.store.get_environment(1, 1)).webhook_signature_key
        assert sig not in r.text and "Reload to show" in r.text
        assert sig in (await b.get("/ui/settings")).text
        r = await b.post("/ui/settings/environments/1/delete", data={"csrf": token})
        assert r.status_code == 409 and sig not in r.text  # the last environment stays
        r = await b.post("/ui/settings/keys/999/revoke", data={"csrf": token})
        assert r.status_code == 404 and 'role="alert"' in r.text
        r = await b.post("/ui/jobs/1/explode", data={"csrf": token})
        assert r.status_code == 404
        r = await b.post("/ui/env", data={"csrf": token, "env_id": "77"})
        assert r.status_code == 404


async def test_duplicate_names_are_refused_by_the_create_form(ui: Ui) -> None:
    await define(ui, name="taken-name")
    async with ui.browser() as b:
        await ui.sign_in(b)
        token = await ui.csrf(b, "/ui/new")
        r = await b.post(
            "/ui/new",
            data={
                "csrf": token,
                "name": "taken-name",
                "webhook_url": "http://127.0.0.1:9/x",
                "schedule": "* * * * *",
                "timezone": "UTC",
                "timeout_seconds": "30",
                "max_retries": "1",
            },
        )
        assert r.status_code == 400 and "already exists" in r.text


async def test_environment_keys_see_only_their_environment(ui: Ui) -> None:
    admin = {"x-api-key": ADMIN_KEY}
    env2 = (
        await ui.app_client.post("/org/environments", json={"name": "staging"}, headers=admin)
    ).json()
    r = await ui.app_client.post(
        "/apikeys", json={"environment_id": env2["id"], "name": "k2"}, headers=admin
    )
    key2 = r.json()["key"]
    prod_job = await define(ui, name="prod-only")
    async with ui.browser() as b:
        assert (await ui.sign_in(b, key2)).status_code == 303
        page = await b.get("/ui/jobs")
        assert "prod-only" not in page.text and 'id="env-select"' not in page.text
        r = await b.get(f"/ui/jobs/{prod_job['id']}")
        assert r.status_code == 404
        token = await ui.csrf(b)
        r = await b.post(f"/ui/jobs/{prod_job['id']}/delete", data={"csrf": token})
        assert r.status_code == 404
        r = await b.post("/ui/settings/environments", data={"csrf": token, "name": "x"})
        assert r.status_code == 403 and "admin" in r.text
        r = await b.post("/ui/env", data={"csrf": token, "env_id": "1"})
        assert r.status_code == 400
    got = await ui.app_client.get(f"/jobs/{prod_job['id']}", headers=admin)
    assert got.status_code == 200


async def test_revoking_a_key_ends_its_sessions_at_once(ui: Ui) -> None:
    admin = {"x-api-key": ADMIN_KEY}
    r = await ui.app_client.post(
        "/apikeys", json={"environment_id": 1, "name": "temp"}, headers=admin
    )
    key, key_id = r.json()["key"], r.json()["id"]
    async with ui.browser() as b:
        await ui.sign_in(b, key)
        assert (await b.get("/ui/jobs")).status_code == 200
        # the htmx refresh of a page is told to go to the sign-in page
        await ui.app_client.delete(f"/apikeys/revoke/{key_id}", headers=admin)
        r = await b.get(
            "/ui/live/jobs",
            headers={"hx-request": "true", "hx-current-url": "http://schedo.test/ui/jobs"},
        )
        assert r.headers["hx-redirect"].startswith("/ui/login")
        r = await b.get("/ui/jobs")
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")


async def test_revoking_your_own_key_signs_you_out(ui: Ui) -> None:
    admin = {"x-api-key": ADMIN_KEY}
    r = await ui.app_client.post(
        "/apikeys", json={"environment_id": 1, "name": "self"}, headers=admin
    )
    key, key_id = r.json()["key"], r.json()["id"]
    async with ui.browser() as b:
        await ui.sign_in(b, key)
        token = await ui.csrf(b)
        r = await b.post(f"/ui/settings/keys/{key_id}/revoke", data={"csrf": token})
        assert r.status_code == 303 and "reason=revoked" in r.headers["location"]


async def test_notification_links_open_the_run_in_its_environment(ui: Ui) -> None:
    """An admin whose session is in one environment follows a link to a run of another."""
    admin = {"x-api-key": ADMIN_KEY}
    env2 = (
        await ui.app_client.post("/org/environments", json={"name": "staging"}, headers=admin)
    ).json()
    r = await ui.app_client.post(
        "/jobs/definition",
        json={"name": "staged-job", "schedule": "@daily"},
        headers={**admin, "X-API-ENVIRONMENT": str(env2["id"])},
    )
    job = r.json()
    r = await ui.app_client.post(
        f"/jobs/trigger/{job['id']}", headers={**admin, "X-API-ENVIRONMENT": str(env2["id"])}
    )
    run = r.json()
    async with ui.browser() as b:
        await ui.sign_in(b)  # lands in the first environment
        r = await b.get(f"/ui/jobs/{job['id']}/runs/{run['id']}")
        assert r.status_code == 200 and "staged-job" in r.text
        page = await b.get("/ui/jobs")  # and the session moved there
        assert "staged-job" in page.text


async def test_preview_describes_the_schedule(ui: Ui) -> None:
    async with ui.browser() as b:
        await ui.sign_in(b)
        r = await b.get(
            "/ui/new/preview", params={"schedule": "0 2 * * *", "timezone": "Europe/Berlin"}
        )
        assert "At 02:00 every day (Europe/Berlin)" in r.text
        assert r.text.count("<li>") == 5
        r = await b.get("/ui/new/preview", params={"schedule": "0 24 * * *"})
        assert "hour field" in r.text
