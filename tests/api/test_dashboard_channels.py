"""The Settings page's alert channels (issue 19): list, add form, delete button, through the
dashboard's forms (session cookie and CSRF), errors shown on the form, nothing changed by a
refused form."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _token(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


async def test_settings_lists_adds_and_deletes_channels(api: Api) -> None:
    async def on_server() -> dict[str, dict]:
        r = await api.client.get("/org/channels", headers=api.admin)
        return {c["name"]: c for c in r.json()}

    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        token = _token(await b.get("/ui/login"))
        await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token})
        page = await b.get("/ui/settings")
        assert page.status_code == 200 and 'id="channels"' in page.text
        assert "No channels" in page.text
        token = _token(page)

        r = await b.post("/ui/settings/channels", data={
            "csrf": token, "name": "ops", "kind": "email",
            "destination": "a@example.com, b@example.com"})
        assert r.status_code == 303 and r.headers["location"].endswith("#channels")
        r = await b.post("/ui/settings/channels", data={
            "csrf": token, "name": "chat", "kind": "slack",
            "destination": "https://chat.example.com/hooks/x"})
        assert r.status_code == 303
        got = await on_server()
        assert got["ops"]["addresses"] == ["a@example.com", "b@example.com"]
        assert got["chat"]["url"] == "https://chat.example.com/hooks/x"
        page = await b.get("/ui/settings?done=channel-added")
        assert "a@example.com, b@example.com" in page.text
        assert "https://chat.example.com/hooks/x" in page.text and "Channel added" in page.text

        # refused forms: the error on the form, nothing changed
        for data, status, words in (
            ({"name": "bad", "kind": "email", "destination": "not-an-address"}, 400, "email"),
            ({"name": "bad", "kind": "webhook", "destination": "ftp://e.example.com"}, 400,
             "url"),
            ({"name": "bad", "kind": "pager", "destination": "x"}, 400, "kind"),
            ({"name": "ops", "kind": "slack", "destination": "https://e.example.com"}, 409, ""),
        ):
            r = await b.post("/ui/settings/channels", data={"csrf": token, **data})
            assert r.status_code == status, (data, r.status_code)
            assert 'role="alert"' in r.text and words in r.text
        forged = await b.post("/ui/settings/channels", data={
            "csrf": "forged", "name": "forged", "kind": "slack",
            "destination": "https://e.example.com"})
        assert forged.status_code == 403
        assert set(await on_server()) == {"ops", "chat"}

        r = await b.post(f"/ui/settings/channels/{got['chat']['id']}/delete",
                         data={"csrf": token})
        assert r.status_code == 303
        r = await b.post(f"/ui/settings/channels/{got['chat']['id']}/delete",
                         data={"csrf": token})
        assert r.status_code == 404 and 'role="alert"' in r.text
        assert set(await on_server()) == {"ops"}
        page = await b.get("/ui/settings")
        assert "chat.example.com" not in page.text and "a@example.com" in page.text
