"""People in the dashboard (issue 22), over HTTP on a real database: sign-in by email and
password, roles checked on every request, sessions revoked and signed out at once, the
People page (roles, removal, the last admin kept), scoped keys in the dashboard, and every
dashboard POST route naming its permission."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi.routing import APIRoute

from schedo.server.services import people
from schedo.server.web import ROUTERS
from schedo.server.web.permissions import DASHBOARD
from tests.conftest import Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "correct horse battery"


def token(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


@asynccontextmanager
async def browser(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        yield b


async def sign_in(b: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await b.get("/ui/login")
    return await b.post("/ui/login", data={"email": email, "password": password,
                                           "csrf": token(page)})


async def add(api: Api, email: str, role: str, env_id: int | None = None) -> int:
    user = await people.add_user(api.svc, 1, email, PASSWORD, role, env_id)
    return user.id


async def test_password_sign_in_roles_and_revocation(api: Api) -> None:
    job = await api.define(name="nightly")
    await add(api, "alice@example.com", "admin")
    bob = await add(api, "Bob@Example.com", "viewer", 1)
    [stored] = await api.svc.store.users_by_email("bob@example.com")  # kept lower-cased
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    async with browser(api) as b, browser(api) as admin:
        r = await sign_in(b, "bob@example.com", "wrong password!")
        assert r.status_code == 401 and "do not match an account" in r.text
        r = await sign_in(b, "nobody@example.com")
        assert r.status_code == 401 and "do not match an account" in r.text
        r = await sign_in(b, "BOB@example.com ")  # the address in any case
        assert r.status_code == 303, r.text
        page = await b.get("/ui/jobs")
        assert page.status_code == 200 and "bob@example.com (viewer)" in page.text
        # a viewer sees but does not trigger; the refusal changes nothing
        r = await b.post(f"/ui/jobs/{job['id']}/trigger", data={"csrf": token(page)})
        assert r.status_code == 403 and "operate jobs needs the operator role" in r.text
        runs = await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)
        assert runs.json() == []
        assert (await b.get("/ui/people")).status_code == 403

        assert (await sign_in(admin, "alice@example.com")).status_code == 303
        page = await admin.get("/ui/people")
        assert page.status_code == 200 and "bob@example.com" in page.text
        # the admin makes bob an operator: his very next request may trigger
        r = await admin.post(f"/ui/people/{bob}/role", data={
            "csrf": token(page), "role": "operator", "environment": "1"})
        assert r.status_code == 303
        page = await b.get("/ui/jobs")
        assert "bob@example.com (operator)" in page.text
        r = await b.post(f"/ui/jobs/{job['id']}/trigger", data={"csrf": token(page)})
        assert r.status_code == 303

        # the admin ends bob's session: he is signed out on his next request
        page = await admin.get("/ui/sessions")
        assert page.status_code == 200 and "Everyone" in page.text
        yours, everyone = page.text.split('id="everyone"')
        [bobs] = await api.svc.store.list_sessions(1, bob, api.clock.now())
        assert f"/ui/sessions/{bobs.id}/revoke" in everyone
        assert f"/ui/sessions/{bobs.id}/revoke" not in yours
        r = await admin.post(f"/ui/sessions/{bobs.id}/revoke", data={"csrf": token(page)})
        assert r.status_code == 303
        r = await b.get("/ui/jobs")
        assert r.status_code in (302, 303, 307) and "/ui/login" in r.headers["location"]
    events = (await api.client.get("/audit", headers=api.admin)).json()
    revoked = next(e for e in events if e["action"] == "revoked")
    assert revoked["action"] == "revoked" and revoked["object"]["name"] == "bob@example.com"
    assert revoked["actor"]["name"] == "alice@example.com"
    assert revoked["actor"]["user_id"] is not None and revoked["actor"]["key_id"] is None
    changed = next(e for e in events if e["object"]["kind"] == "user")
    assert changed["changes"] == {"role:1": ["viewer", "operator"]}
    triggered = next(e for e in events if e["action"] == "triggered")
    assert triggered["actor"]["name"] == "bob@example.com"


async def test_sign_in_and_out_are_audited_and_sign_out_ends_the_session(api: Api) -> None:
    env2 = (await api.client.post("/org/environments", json={"name": "staging"},
                                  headers=api.admin)).json()["id"]
    await add(api, "alice@example.com", "admin")  # every environment
    await add(api, "bob@example.com", "viewer", 1)
    async with browser(api) as b, browser(api) as thief:
        assert (await sign_in(b, "bob@example.com", "wrong password!")).status_code == 401
        assert (await sign_in(b, "bob@example.com")).status_code == 303
        page = await b.get("/ui/jobs")
        assert page.status_code == 200
        thief.cookies.update(b.cookies)  # a copy of the signed-in cookie
        assert (await thief.get("/ui/jobs")).status_code == 200
        r = await b.post("/ui/logout", data={"csrf": token(page)})
        assert r.status_code == 303 and "signedout" in r.headers["location"]
        # the copied cookie no longer signs anyone in: the session ended on the server
        r = await thief.get("/ui/jobs")
        assert r.status_code in (302, 303, 307) and "/ui/login" in r.headers["location"]
        r = await thief.post("/ui/logout", data={"csrf": token(page)})  # again: no error
        assert r.status_code in (302, 303, 307)
        assert (await sign_in(b, "alice@example.com")).status_code == 303
    one = [e for e in (await api.client.get("/audit", headers=api.admin)).json()
           if e["object"]["kind"] == "session"]
    two = [e for e in (await api.client.get("/audit", headers={
        **api.admin, "x-api-environment": str(env2)})).json() if e["object"]["kind"] == "session"]
    assert [(e["action"], e["actor"]["name"]) for e in one] == [
        ("signed_in", "alice@example.com"), ("signed_out", "bob@example.com"),
        ("signed_in", "bob@example.com")]
    assert one[2]["changes"] == {"with": [None, "password"]}
    assert one[2]["actor"]["via"] == "dashboard" and one[2]["actor"]["key_id"] is None
    assert one[1]["object"]["id"] == one[2]["object"]["id"]  # the same session
    # bob has no role in staging: only alice's sign-in is recorded there
    assert [(e["action"], e["actor"]["name"]) for e in two] == [
        ("signed_in", "alice@example.com")]
    r = await api.client.get("/audit?action=signed_in", headers=api.admin)
    assert [e["actor"]["name"] for e in r.json()] == ["alice@example.com", "bob@example.com"]


async def test_a_refused_sign_in_of_a_known_address_is_audited(api: Api) -> None:
    env2 = (await api.client.post("/org/environments", json={"name": "staging"},
                                  headers=api.admin)).json()["id"]
    bob = await add(api, "bob@example.com", "viewer", 1)
    async with browser(api) as b:
        assert (await sign_in(b, "BOB@example.com", "wrong password!")).status_code == 401
        assert (await sign_in(b, "nobody@example.com", "wrong password!")).status_code == 401
        assert (await sign_in(b, "bob@example.com")).status_code == 303
    [ev] = (await api.client.get("/audit?action=sign_in_refused", headers=api.admin)).json()
    assert ev["object"] == {"kind": "user", "id": bob, "name": "bob@example.com"}
    assert ev["changes"] == {"reason": [None, "wrong password"]}
    # the caller proved no identity: the actor is the client's address, no key, no user
    assert ev["actor"] == {"key_id": None, "user_id": None, "name": "127.0.0.1",
                           "via": "dashboard"}
    # bob has no role in staging; an unknown address is recorded nowhere
    assert (await api.client.get("/audit?action=sign_in_refused", headers={
        **api.admin, "x-api-environment": str(env2)})).json() == []


async def test_people_page_refuses_bad_input_and_keeps_the_last_admin(api: Api) -> None:
    alice = await add(api, "alice@example.com", "admin")
    carol = await add(api, "carol@example.com", "editor", 1)
    other = await api.svc.store.create_org("Other", api.clock.now())
    async with browser(api) as b:
        assert (await sign_in(b, "alice@example.com")).status_code == 303
        page = await b.get("/ui/people")
        before = await api.svc.store.list_people(1)
        cases = [
            (f"/ui/people/{carol}/role", {"role": "root", "environment": "1"}, 400, "role:"),
            (f"/ui/people/{carol}/role", {"role": "viewer", "environment": "x"}, 400,
             "environment"),
            (f"/ui/people/{carol}/role", {"role": "viewer", "environment": "987654"}, 404,
             "not found"),
            ("/ui/people/987654/role", {"role": "viewer", "environment": "1"}, 404,
             "not found"),
            (f"/ui/people/{alice}/role", {"role": "viewer", "environment": "all"}, 409,
             "last admin"),
            (f"/ui/people/{alice}/remove", {}, 409, "last admin"),
            ("/ui/people/invite", {"email": "not-an-address", "role": "viewer",
                                   "environment": "1"}, 400, "email"),
            ("/ui/people/invite", {"email": "carol@example.com", "role": "viewer",
                                   "environment": "1"}, 409, "already has an account"),
        ]
        for path, data, status, text in cases:
            r = await b.post(path, data={"csrf": token(page), **data})
            assert r.status_code == status, (path, data, r.status_code, r.text[:300])
            assert text in r.text, (path, text)
        r = await b.post(f"/ui/people/{carol}/role", data={"role": "viewer",
                                                          "environment": "1"})
        assert r.status_code == 403  # no CSRF token
        assert await api.svc.store.list_people(1) == before
        assert other.id != 1
        r = await b.post(f"/ui/people/{carol}/remove", data={"csrf": token(page)})
        assert r.status_code == 303
        assert [p.user.email for p in await api.svc.store.list_people(1)] == [
            "alice@example.com"]


async def test_scoped_keys_in_the_dashboard(api: Api) -> None:
    job = await api.define(name="nightly")
    keys = {}
    for scope in ("read", "worker"):
        r = await api.client.post("/apikeys", headers=api.admin, json={
            "environment_id": 1, "name": scope, "scope": scope})
        keys[scope] = r.json()["key"]
    async with browser(api) as b:
        page = await b.get("/ui/login")
        r = await b.post("/ui/login", data={"api_key": keys["worker"], "csrf": token(page)})
        assert r.status_code == 403 and "worker key cannot sign in" in r.text
        page = await b.get("/ui/login")
        r = await b.post("/ui/login", data={"api_key": keys["read"], "csrf": token(page)})
        assert r.status_code == 303
        page = await b.get("/ui/jobs")
        assert page.status_code == 200 and "Key: read (read)" in page.text
        for path in (f"/ui/jobs/{job['id']}/pause", f"/ui/jobs/{job['id']}/delete",
                     "/ui/settings/keys"):
            r = await b.post(path, data={"csrf": token(page), "name": "x"})
            assert r.status_code == 403 and "permission denied" in r.text, path
        assert (await api.client.get(f"/jobs/{job['id']}", headers=api.admin)).json()[
            "job"]["paused"] is False
    async with browser(api) as b:  # Settings creates a key with a scope
        page = await b.get("/ui/login")
        await b.post("/ui/login", data={"api_key": api.admin["x-api-key"],
                                        "csrf": token(page)})
        page = await b.get("/ui/settings")
        assert 'name="scope"' in page.text
        r = await b.post("/ui/settings/keys", data={"csrf": token(page), "name": "ops",
                                                    "scope": "operator"})
        assert r.status_code == 200 and "(operator)" in r.text
        r = await b.post("/ui/settings/keys", data={"csrf": token(page), "name": "bad",
                                                    "scope": "root"})
        assert r.status_code == 400 and "scope: must be one of" in r.text
    listed = (await api.client.get("/apikeys", headers=api.admin)).json()
    assert {k["name"]: k["scope"] for k in listed}.get("ops") == "operator"
    assert "bad" not in {k["name"] for k in listed}


def test_every_dashboard_post_names_its_permission() -> None:
    public = {"/ui/login", "/ui/invitation/{token}"}
    posts = {r.path for router in ROUTERS for r in router.routes
             if isinstance(r, APIRoute) and "POST" in r.methods}
    assert posts - public - set(DASHBOARD) == set()
    assert set(DASHBOARD) - posts == set()  # no stale rows


async def test_a_user_switches_between_the_environments_of_their_roles(api: Api) -> None:
    env2 = (await api.client.post("/org/environments", json={"name": "staging"},
                                  headers=api.admin)).json()["id"]
    env3 = (await api.client.post("/org/environments", json={"name": "secret"},
                                  headers=api.admin)).json()["id"]
    job2 = await api.define(headers={**api.admin, "X-API-ENVIRONMENT": str(env2)},
                            name="staging-job")
    job3 = await api.define(headers={**api.admin, "X-API-ENVIRONMENT": str(env3)},
                            name="secret-job")
    bob = await add(api, "bob@example.com", "viewer", 1)
    await api.svc.store.set_role(1, bob, env2, "editor", now=api.clock.now())
    async with browser(api) as b:
        await sign_in(b, "bob@example.com")
        page = await b.get("/ui/jobs")
        assert 'name="env_id"' in page.text and "staging" in page.text
        assert "secret" not in page.text
        r = await b.post("/ui/env", data={"csrf": token(page), "env_id": str(env3)})
        assert r.status_code == 404
        assert (await b.get(f"/ui/jobs/{job3['id']}")).status_code == 404
        r = await b.post("/ui/env", data={"csrf": token(page), "env_id": str(env2),
                                          "next": "/ui/jobs"})
        assert r.status_code == 303
        page = await b.get("/ui/jobs")
        assert "bob@example.com (editor)" in page.text and "staging-job" in page.text
        assert (await b.get(f"/ui/jobs/{job2['id']}")).status_code == 200
        # losing the role there moves the session back to where a role is left
        await api.svc.store.set_role(1, bob, env2, None, now=api.clock.now())
        page = await b.get("/ui/jobs")
        assert "bob@example.com (viewer)" in page.text and "staging-job" not in page.text


@pytest.mark.parametrize("settings_overrides", [{"auth_failure_limit": 3}])
async def test_wrong_passwords_count_toward_the_per_address_limit(api: Api) -> None:
    await add(api, "bob@example.com", "viewer", 1)
    async with browser(api) as b:
        for _ in range(3):
            assert (await sign_in(b, "bob@example.com", "not the password")).status_code == 401
        r = await sign_in(b, "bob@example.com")  # the right one too, until the window passes
        assert r.status_code == 429 and "Too many failed sign-ins" in r.text
        assert await api.svc.store.list_sessions(1, None, api.clock.now()) == []
