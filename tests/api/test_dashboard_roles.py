"""The dashboard shows each person only what their role may do (issue 22), over HTTP on a real
database: for every role and key scope, each page's POST forms are exactly ones the table of
web/permissions.py allows (the same table ``checked_form`` enforces), the allowed actions'
controls are there, a line explains what is missing, and another environment's ids answer 404
whatever the role."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from schedo.server.domain.permissions import Action, allows
from schedo.server.services import people
from schedo.server.web.permissions import DASHBOARD, action_of, can_post, route_of
from tests.conftest import Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORM = re.compile(r'<form\b[^>]*\bmethod="post"[^>]*>', re.I)
ACTION = re.compile(r'\baction="([^"]*)"')
HX_POST = re.compile(r'\bhx-post="([^"]*)"')
PASSWORD = "correct horse battery"

# who signs in: (grant, how): a person with a role in environment 1, or a key of a scope
WHO = ["viewer", "read", "operator", "editor", "admin", "full", "org-admin"]


@dataclass
class World:
    sdk: dict
    push: dict
    pending_run: int
    foreign_job: dict
    foreign_run: int


def token(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def posts_of(html: str) -> list[str]:
    """Every URL the page would POST to: forms, and htmx posts."""
    urls = []
    for tag in FORM.findall(html):
        found = ACTION.search(tag)
        assert found, tag
        urls.append(found.group(1))
    return urls + HX_POST.findall(html)


def allowed(grant: str, url: str) -> bool:
    found = route_of(url)
    assert found is not None, f"a form posts to {url!r}, which no dashboard route serves"
    route, params = found
    return allows(grant, action_of(route, params))


async def world(api: Api) -> World:
    sdk = await api.define(name="nightly-sdk")
    push = await api.define(name="nightly-push", webhook_url="https://example.com/hook")
    r = await api.client.post(f"/jobs/trigger/{sdk['id']}", headers=api.admin)
    assert r.status_code == 200, r.text
    pending = int(r.json()["id"])
    r = await api.client.post("/org/channels", headers=api.admin, json={
        "name": "ops", "kind": "email", "addresses": ["a@example.com"]})
    assert r.status_code == 200, r.text
    env2 = (await api.client.post("/org/environments", json={"name": "other"},
                                  headers=api.admin)).json()["id"]
    h2 = {**api.admin, "X-API-ENVIRONMENT": str(env2)}
    foreign = await api.define(headers=h2, name="foreign-job")
    r2 = await api.client.post(f"/jobs/trigger/{foreign['id']}", headers=h2)
    assert r2.status_code == 200, r2.text
    return World(sdk, push, pending, foreign, int(r2.json()["id"]))


@asynccontextmanager
async def signed_in(api: Api, who: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser signed in as ``who``; yields it with the grant it holds in environment 1."""
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        page = await b.get("/ui/login")
        if who in ("viewer", "operator", "editor", "admin"):
            email = f"{who}@example.com"
            await people.add_user(api.svc, 1, email, PASSWORD, who, 1)
            r = await b.post("/ui/login", data={"email": email, "password": PASSWORD,
                                                "csrf": token(page)})
            grant = who
        else:
            if who == "org-admin":
                key = api.admin["x-api-key"]
            else:
                r = await api.client.post("/apikeys", headers=api.admin, json={
                    "environment_id": 1, "name": who, "scope": who})
                assert r.status_code == 200, r.text
                key = r.json()["key"]
            r = await b.post("/ui/login", data={"api_key": key, "csrf": token(page)})
            grant = "full" if who == "org-admin" else who
        assert r.status_code == 303, r.text[:500]
        yield b, grant


def pages(w: World) -> list[str]:
    return ["/ui/", "/ui/jobs", f"/ui/jobs/{w.sdk['id']}", f"/ui/jobs/{w.push['id']}",
            f"/ui/jobs/{w.sdk['id']}/runs/{w.pending_run}", "/ui/new",
            f"/ui/jobs/{w.push['id']}/edit", "/ui/settings"]


@pytest.mark.parametrize("who", WHO)
async def test_each_page_offers_only_what_the_role_may_do(api: Api, who: str) -> None:
    w = await world(api)
    async with signed_in(api, who) as (b, grant):
        seen: dict[str, str] = {}
        for path in pages(w):
            page = await b.get(path)
            assert page.status_code == 200, (path, page.status_code)
            seen[path] = page.text
            for url in posts_of(page.text):
                assert allowed(grant, url), f"{who} is offered POST {url} on {path}"
        job, push = seen[f"/ui/jobs/{w.sdk['id']}"], seen[f"/ui/jobs/{w.push['id']}"]
        run = seen[f"/ui/jobs/{w.sdk['id']}/runs/{w.pending_run}"]
        operate, define = allows(grant, Action.OPERATE), allows(grant, Action.DEFINE)
        jid = w.sdk["id"]
        assert (f'action="/ui/jobs/{jid}/trigger"' in job) is operate
        assert (f'action="/ui/jobs/{jid}/pause"' in job) is operate
        assert (f'action="/ui/jobs/{jid}/mute"' in job) is operate
        assert (f'action="/ui/jobs/{jid}/runs/{w.pending_run}/cancel"' in run) is operate
        assert (f'href="/ui/jobs/{jid}/edit"' in job) is define
        assert (f'action="/ui/jobs/{jid}/delete"' in job) is allows(grant, Action.EDIT)
        assert (f'action="/ui/jobs/{w.push["id"]}/webhook"' in push) is allows(
            grant, Action.EDIT)
        assert ("Use “Trigger now”" in push) is operate  # its empty history's hint
        assert ('href="/ui/new"' in seen["/ui/jobs"]) is define
        assert ('action="/ui/new"' in seen["/ui/new"]) is define
        assert (f'action="/ui/jobs/{w.push["id"]}/edit"' in
                seen[f"/ui/jobs/{w.push['id']}/edit"]) is define
        settings = seen["/ui/settings"]
        assert ('action="/ui/settings/channels"' in settings) is allows(grant, Action.EDIT)
        assert ('action="/ui/settings/keys"' in settings) is allows(grant, Action.ADMIN)
        assert ('href="/ui/people"' in settings) is allows(grant, Action.ADMIN)
        # where controls are missing, a line says why (never silently)
        note = 'class="help role-note"'
        assert (note in job) is not allows(grant, Action.EDIT)
        assert (note in run) is not operate
        assert (note in seen["/ui/new"]) is not define
        assert (note in settings) is not allows(grant, Action.ADMIN)
        if grant in ("viewer", "read"):
            assert "to trigger, pause, resume or mute this job" in job
            assert "for the operator role" in job
            assert "for the editor role" in seen["/ui/new"]


@pytest.mark.parametrize("who", WHO)
async def test_refreshed_fragments_follow_the_role(api: Api, who: str) -> None:
    async with signed_in(api, who) as (b, grant):
        empty = await b.get("/ui/live/jobs")  # no jobs yet: the table's empty line
        assert empty.status_code == 200
        assert ('href="/ui/new"' in empty.text) is allows(grant, Action.DEFINE)
        overview = await b.get("/ui/live/overview")
        assert overview.status_code == 200
        assert ('href="/ui/new"' in overview.text) is allows(grant, Action.DEFINE)


@pytest.mark.parametrize("who", ["viewer", "operator", "editor", "admin", "read", "full"])
async def test_another_environments_ids_answer_404_for_every_role(api: Api, who: str) -> None:
    w = await world(api)
    jid, rid = w.foreign_job["id"], w.foreign_run
    async with signed_in(api, who) as (b, _grant):
        csrf = token(await b.get("/ui/jobs"))
        for path in (f"/ui/jobs/{jid}", f"/ui/jobs/{jid}/runs/{rid}", f"/ui/jobs/{jid}/edit",
                     f"/ui/jobs/{jid}/runs/{w.pending_run}", "/ui/jobs/999999"):
            r = await b.get(path)
            assert r.status_code == 404, (who, path, r.status_code)
        for action in ("trigger", "pause", "delete"):
            r = await b.post(f"/ui/jobs/{jid}/{action}", data={"csrf": csrf})
            missing = await b.post(f"/ui/jobs/999999/{action}", data={"csrf": csrf})
            # a foreign id answers like a missing one: 404, or the same 403 before any lookup
            assert r.status_code == missing.status_code in (403, 404), (who, action)
    r = await api.client.get(f"/jobs/{jid}", headers={**api.admin,
                                                      "X-API-ENVIRONMENT": "2"})
    assert r.status_code == 200 and r.json()["job"]["paused"] is False


def test_can_post_reads_the_same_table_as_the_check() -> None:
    for route, entry in DASHBOARD.items():
        for grant in ("viewer", "operator", "editor", "admin", "read", "full", "worker"):
            if isinstance(entry, dict):
                for action, needed in entry.items():
                    assert can_post(grant, route, action) is allows(grant, needed)
                assert can_post(grant, route, "no-such-action") is allows(grant, Action.ADMIN)
            else:
                assert can_post(grant, route) is allows(grant, entry)
    with pytest.raises(KeyError):
        can_post("admin", "/ui/not-a-route")
    assert route_of("/ui/jobs/7/pause") == ("/ui/jobs/{job_id}/{action}",
                                            {"job_id": "7", "action": "pause"})
    assert route_of("/ui/jobs/7/edit") == ("/ui/jobs/{job_id}/edit", {"job_id": "7"})
    assert route_of("/ui/jobs/7/runs/3/cancel")[0] == (  # type: ignore[index]
        "/ui/jobs/{job_id}/runs/{exec_id}/cancel")
    assert route_of("/ui/new") == ("/ui/new", {})
    assert route_of("/elsewhere") is None
