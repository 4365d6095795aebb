"""Invitations by email (issue 22) through the real SMTP path (aiosmtpd on loopback, as the
notification tests): the mail carries a one-time link valid 7 days; the invitee sets a
password and is a member with the invited role; the link works once. Without SMTP the admin
is shown the link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.api.test_people import PASSWORD, add, browser, sign_in, token
from tests.conftest import Api
from tests.notify.conftest import SmtpServer

PUBLIC_URL = "https://schedo.example.com"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings_overrides(smtp_server: SmtpServer) -> dict[str, object]:
    return {"smtp_url": smtp_server.url, "public_url": PUBLIC_URL,
            "mail_from": "schedo@example.com"}


async def test_an_invitation_is_mailed_and_its_link_works_once(
    api: Api, smtp_server: SmtpServer,
) -> None:
    job = await api.define(name="nightly")
    await add(api, "alice@example.com", "admin")
    async with browser(api) as admin:
        await sign_in(admin, "alice@example.com")
        page = await admin.get("/ui/people")
        r = await admin.post("/ui/people/invite", data={
            "csrf": token(page), "email": "Carol@Example.com", "role": "operator",
            "environment": "1"})
        assert r.status_code == 200 and "carol@example.com is invited as operator" in r.text
        assert "The invitation was mailed" in r.text and "invite-link" not in r.text
    [mail] = smtp_server.mails
    assert mail.rcpt == ["carol@example.com"] and mail.subject == "Your invitation to Schedo"
    text = mail.part("plain")
    found = re.search(re.escape(PUBLIC_URL) + r"(/ui/invitation/[A-Za-z0-9_-]+)", text)
    assert found and "operator" in text, text
    link = found.group(1)
    stored = await api.svc.store.list_people(1)
    assert [p.user.email for p in stored] == ["alice@example.com"]  # not a user yet

    async with browser(api) as b:
        page = await b.get(link)
        assert page.status_code == 200 and "carol@example.com" in page.text
        for data, status, message in (
            ({"password": "short", "password2": "short"}, 400, "password: must be"),
            ({"password": PASSWORD, "password2": PASSWORD + "x"}, 400, "differ"),
        ):
            r = await b.post(link, data={"csrf": token(page), "name": "Carol", **data})
            assert r.status_code == status and message in r.text, r.text[-800:]
            page = r  # each answer carries a fresh form token
        r = await b.post(link, data={"csrf": "forged", "password": PASSWORD,
                                     "password2": PASSWORD})
        assert r.status_code == 400 and "did not come from this page" in r.text
        page = r
        assert [p.user.email for p in await api.svc.store.list_people(1)] == [
            "alice@example.com"]
        r = await b.post(link, data={"csrf": token(page), "name": "Carol",
                                     "password": PASSWORD, "password2": PASSWORD})
        assert r.status_code == 303 and r.headers["location"] == "/ui/"
        page = await b.get("/ui/jobs")
        assert "carol@example.com (operator)" in page.text
        r = await b.post(f"/ui/jobs/{job['id']}/trigger", data={"csrf": token(page)})
        assert r.status_code == 303
    async with browser(api) as again:
        assert (await again.get(link)).status_code == 404  # used
        r = await sign_in(again, "carol@example.com")
        assert r.status_code == 303
    events = (await api.client.get("/audit", headers=api.admin)).json()
    invited = next(e for e in events if e["object"]["kind"] == "invitation")
    assert invited["actor"]["name"] == "alice@example.com"
    assert invited["changes"] == {"role:1": [None, "operator"]}


async def test_an_expired_or_unknown_link_is_a_404(api: Api, smtp_server: SmtpServer) -> None:
    await add(api, "alice@example.com", "admin")
    async with browser(api) as admin:
        await sign_in(admin, "alice@example.com")
        page = await admin.get("/ui/people")
        await admin.post("/ui/people/invite", data={
            "csrf": token(page), "email": "dave@example.com", "role": "viewer",
            "environment": "all"})
    link = re.search(r"/ui/invitation/[A-Za-z0-9_-]+", smtp_server.mails[0].part("plain"))
    assert link
    async with browser(api) as b:
        for bad in ("/ui/invitation/nope", "/ui/invitation/" + "A" * 43,
                    "/ui/invitation/%00" + "a" * 40):
            r = await b.get(bad)
            assert r.status_code == 404 and "unknown, used or expired" in r.text
        api.clock.advance(timedelta(days=7).total_seconds())
        r = await b.get(link.group(0))
        assert r.status_code == 404


@pytest.mark.parametrize("settings_overrides", [{"public_url": PUBLIC_URL}])
async def test_without_smtp_the_admin_is_shown_the_link(api: Api) -> None:
    await add(api, "alice@example.com", "admin")
    async with browser(api) as admin:
        await sign_in(admin, "alice@example.com")
        page = await admin.get("/ui/people")
        r = await admin.post("/ui/people/invite", data={
            "csrf": token(page), "email": "erin@example.com", "role": "editor",
            "environment": "1"})
    assert r.status_code == 200 and "no SMTP server is configured" in r.text
    assert re.search(r'id="invite-link"[^>]*value="' + re.escape(PUBLIC_URL)
                     + r'/ui/invitation/', r.text)
