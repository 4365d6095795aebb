"""Settings, Secrets in the dashboard (issue 22), over HTTP on both databases: the signing
secret revealed only in a POST's answer (never cached), rotated with an overlap, the admin
key rotated behind a confirm step with this browser signed in again; environment keys,
foreign environments, bad overlaps and stale forms are refused and change nothing."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _token(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def _browser(api: Api) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=api.client._transport, base_url="http://schedo.test")


async def _sign_in(b: httpx.AsyncClient, key: str = ADMIN_KEY) -> str:
    token = _token(await b.get("/ui/login"))
    r = await b.post("/ui/login", data={"api_key": key, "csrf": token})
    assert r.status_code == 303, r.text
    return _token(await b.get("/ui/settings"))


async def _key(api: Api, env_id: int = 1) -> str:
    r = await api.client.get(f"/org/environments/{env_id}/webhook-secret", headers=api.admin)
    return str(r.json()["webhook_signature_key"])


async def test_reveal_and_rotate_the_signing_secret(api: Api) -> None:
    old = await _key(api)
    async with _browser(api) as b:
        csrf = await _sign_in(b)
        assert 'href="/ui/settings/secrets"' in (await b.get("/ui/settings")).text
        page = await b.get("/ui/settings/secrets")
        assert page.status_code == 200 and "production" in page.text
        assert old not in page.text and page.headers["cache-control"] == "no-store"
        r = await b.post("/ui/settings/secrets/1/reveal", data={"csrf": csrf})
        assert r.status_code == 200 and f'value="{old}"' in r.text
        assert r.headers["cache-control"] == "no-store" and 'data-copy="secret-value-1"' in r.text
        r = await b.post("/ui/settings/secrets/1/reveal", data={"csrf": csrf},
                         headers={"hx-request": "true"})
        assert r.status_code == 200 and old in r.text and "<html" not in r.text
        assert old not in (await b.get("/ui/settings/secrets")).text  # once, not kept
        r = await b.post("/ui/settings/secrets/1/rotate",
                         data={"csrf": csrf, "overlap_seconds": "3600"})
        assert r.status_code == 200, r.text
        new = await _key(api)
        assert new != old and f'value="{new}"' in r.text and old not in r.text
        assert "still signs beside it until" in r.text and "2026-11-28T13:00:00Z" in r.text
        page = await b.get("/ui/settings/secrets")
        assert "previous secret signs too until" in page.text and new not in page.text
    events = (await api.client.get("/audit", params={"action": "rotated"},
                                   headers=api.admin)).json()
    assert [(e["action"], e["actor"]["via"]) for e in events] == [("rotated", "dashboard")]


@pytest.mark.parametrize("overlap", ["", "abc", "-1", "604801", "1.5", "3600 ", "\uff19"])
async def test_a_bad_overlap_is_a_400_and_changes_nothing(api: Api, overlap: str) -> None:
    old = await _key(api)
    async with _browser(api) as b:
        csrf = await _sign_in(b)
        r = await b.post("/ui/settings/secrets/1/rotate",
                         data={"csrf": csrf, "overlap_seconds": overlap})
        if overlap == "3600 ":  # surrounding blanks of a form field are forgiven
            assert r.status_code == 200
            return
        assert r.status_code == 400 and "overlap_seconds" in r.text and 'role="alert"' in r.text
    assert await _key(api) == old


async def test_foreign_ids_environment_keys_and_stale_forms(api: Api) -> None:
    old = await _key(api)
    other = await api.foreign_org()
    other_env = (await api.client.get("/org/environments", headers=other)).json()[0]
    env_key = (await api.env_key(1))["x-api-key"]
    async with _browser(api) as b:
        csrf = await _sign_in(b)
        for env_id in (other_env["id"], 999_999):
            for action in ("reveal", "rotate"):
                r = await b.post(f"/ui/settings/secrets/{env_id}/{action}",
                                 data={"csrf": csrf, "overlap_seconds": "60"})
                assert r.status_code == 404, r.text
                assert other_env["webhook_signature_key"] not in r.text
        r = await b.post("/ui/settings/secrets/1/rotate", data={"overlap_seconds": "60"})
        assert r.status_code == 403  # no CSRF token
        r = await b.post("/ui/settings/admin-key/rotate", data={"confirm": "rotate"})
        assert r.status_code == 403
    async with _browser(api) as b:
        csrf = await _sign_in(b, env_key)
        assert (await b.get("/ui/settings/secrets")).status_code == 403
        for path in ("/ui/settings/secrets/1/reveal", "/ui/settings/secrets/1/rotate",
                     "/ui/settings/admin-key/rotate"):
            r = await b.post(path, data={"csrf": csrf, "overlap_seconds": "60",
                                         "confirm": "rotate"})
            assert r.status_code == 403 and old not in r.text, path
        form = await b.get("/ui/new")
        assert "Reveal the signing secret" not in form.text
        assert "Settings \u203a Secrets" in form.text
    assert await _key(api) == old
    assert (await api.client.get("/org", headers=api.admin)).status_code == 200
    assert (await api.client.get("/org/environments", headers=other)).json()[0][
        "webhook_signature_key"] == other_env["webhook_signature_key"]


async def test_rotate_the_admin_key_from_the_dashboard(api: Api) -> None:
    async with _browser(api) as b, _browser(api) as elsewhere:
        csrf = await _sign_in(b)
        await _sign_in(elsewhere)
        r = await b.post("/ui/settings/admin-key/rotate", data={"csrf": csrf})
        assert r.status_code == 400 and "confirm" in r.text  # the box not ticked
        assert (await api.client.get("/org", headers=api.admin)).status_code == 200
        r = await b.post("/ui/settings/admin-key/rotate", data={"csrf": csrf,
                                                               "confirm": "rotate"})
        assert r.status_code == 200, r.text
        assert "it will not be shown again" in r.text and r.headers["cache-control"] == "no-store"
        new = re.search(r'id="secret-value" class="mono" readonly value="([^"]+)"', r.text)
        assert new is not None
        assert "set-cookie" in r.headers
        # the old key is refused everywhere; the new one works; this browser goes on
        assert (await api.client.get("/org", headers=api.admin)).status_code == 401
        assert (await api.client.get("/org", headers={"x-api-key": new.group(1)})
                ).status_code == 200
        page = await b.get("/ui/settings/secrets")
        assert page.status_code == 200 and new.group(1) not in page.text
        r = await b.post("/ui/settings/secrets/1/reveal", data={"csrf": _token(page)})
        assert r.status_code == 200  # the new session's forms work
        assert (await elsewhere.get("/ui/settings")).status_code == 303  # signed out there
    events = (await api.client.get("/audit", headers={"x-api-key": new.group(1)})).json()
    assert [(e["action"], e["object"]["kind"], e["actor"]["via"]) for e in events[:2]] == [
        ("created", "api_key", "dashboard"), ("revoked", "api_key", "dashboard")]


async def test_the_new_job_form_reveals_the_secret_in_place(api: Api) -> None:
    async with _browser(api) as b:
        await _sign_in(b)
        form = await b.get("/ui/new")
        assert "Reveal the signing secret" in form.text
        assert 'hx-post="/ui/settings/secrets/1/reveal"' in form.text
        assert await _key(api) not in form.text


async def test_a_rotate_form_sent_again_is_a_409_and_keeps_the_old_secret(api: Api) -> None:
    """Reloading the page a rotation answered (the browser sends the form again), a double
    click or a second tab's older form must not rotate a second time: that would drop at
    once the secret every receiver still holds, overlap or not."""
    old = await _key(api)
    async with _browser(api) as b:
        csrf = await _sign_in(b)
        page = (await b.get("/ui/settings/secrets")).text
        seen = re.search(r'name="expected" value="([0-9a-f]+)"', page)
        assert seen and old not in page
        form = {"csrf": csrf, "overlap_seconds": "3600", "expected": seen.group(1)}
        r = await b.post("/ui/settings/secrets/1/rotate", data=form)
        assert r.status_code == 200, r.text
        new = await _key(api)
        for again in (form, {**form, "overlap_seconds": "0"}):
            r = await b.post("/ui/settings/secrets/1/rotate", data=again)
            assert r.status_code == 409 and 'role="alert"' in r.text, r.text
            assert "rotated meanwhile" in r.text and new not in r.text
        for bad in ("", "zz", "\x00", "a" * 5000):
            r = await b.post("/ui/settings/secrets/1/rotate", data={**form, "expected": bad})
            assert r.status_code == 400 and "expected" in r.text, bad
    state = (await api.client.get("/org/environments/1/webhook-secret",
                                  headers=api.admin)).json()
    assert state["webhook_signature_key"] == new and state["previous_valid_until"]
    events = (await api.client.get("/audit", params={"action": "rotated"},
                                   headers=api.admin)).json()
    assert len(events) == 1
