"""The job forms (issue 22): ``/ui/new`` creates every job type ``POST /jobs/definition``
can, ``/ui/jobs/{id}/edit`` changes any field of a job (seen through the JSON API, the fields
the form does not show kept), every refused field is reported at once beside itself with the
typed values kept, a mistyped zone gets "did you mean", forged CSRF is a 403, and a deleted or
foreign job is a 404. The real app in process, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NEW = {
    "name": "", "schedule": "*/5 * * * *", "crons": "", "timezone": "UTC",
    "catch_up": "latest", "overlap": "skip", "max_concurrency": "", "jitter_seconds": "0",
    "timeout_seconds": "60", "max_retries": "0", "metadata": "{}", "webhook_url": "",
    "command": "", "target_host": "", "target_tags": "", "target_mode": "any",
    "grace_seconds": "3600", "alert_after_failures": "1", "pause_after_failures": "",
    "max_duration_seconds": "", "success_within_seconds": "", "remind_every_seconds": "",
    "channels_mode": "all", "paused_until": "", "skip_next": "0",
}


class Browser:
    def __init__(self, api: Api, client: httpx.AsyncClient, token: str) -> None:
        self.api, self.b, self.token = api, client, token

    async def post(self, path: str, **data: str) -> httpx.Response:
        return await self.b.post(path, data={"csrf": self.token, **data})

    async def job(self, job_id: int) -> dict[str, Any]:
        r = await self.api.client.get(f"/jobs/{job_id}", headers=self.api.admin)
        assert r.status_code == 200, r.text
        return r.json()["job"]

    async def by_name(self, name: str) -> dict[str, Any] | None:
        r = await self.api.client.get("/jobs", headers=self.api.admin)
        return next((j for j in r.json() if j["name"] == name), None)


@pytest.fixture
async def web(api: Api) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        found = CSRF.search((await b.get("/ui/login")).text)
        assert found
        r = await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": found.group(1)})
        assert r.status_code == 303
        page = await b.get("/ui/new")
        found = CSRF.search(page.text)
        assert found
        yield Browser(api, b, found.group(1))


def _labelled(page: str) -> None:
    """Every visible input, select and textarea has a <label for> (or sits in one)."""
    ids = set(re.findall(r'<label for="([^"]+)"', page))
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", page):
        if re.search(r'type="(hidden|radio|checkbox)"', tag):
            continue
        found = re.search(r'id="([^"]+)"', tag)
        assert found and found.group(1) in ids, tag


async def test_new_form_creates_every_job_type(web: Browser) -> None:
    page = await web.b.get("/ui/new")
    assert page.status_code == 200
    _labelled(page.text)
    for kind in ("sdk", "push", "command", "heartbeat"):
        assert f'name="type" value="{kind}"' in page.text
    made = {
        "push": {"webhook_url": "https://hooks.example.com/x", "max_retries": "3"},
        "sdk": {"overlap": "allow", "max_concurrency": "4", "jitter_seconds": "30"},
        "command": {"command": "echo hi", "target_tags": "db, eu", "target_mode": "all",
                    "overlap": "buffer_one", "catch_up": "all", "after_jobs": "form-push",
                    "after_on": "completion", "after_within": "600"},
        "heartbeat": {"grace_seconds": "600", "schedule": "0 3 * * *"},
    }
    for kind, extra in made.items():
        r = await web.post("/ui/new", **{**NEW, "type": kind, "name": f"form-{kind}",
                                         "timezone": "Europe/Berlin", "timeout_seconds": "90",
                                         "metadata": '{"team": "data"}', **extra})
        assert r.status_code == 303, (kind, r.text[:2000])
        job_id = int(r.headers["location"].split("/ui/jobs/")[1].split("?")[0])
        job = await web.job(job_id)
        assert job["type"] == kind and job["timezone"] == "Europe/Berlin"
        assert job["metadata"] == {"team": "data"}
        if kind != "heartbeat":
            assert job["timeout_seconds"] == 90
    push, sdk = await web.by_name("form-push"), await web.by_name("form-sdk")
    cmd, beat = await web.by_name("form-command"), await web.by_name("form-heartbeat")
    assert push and push["webhook_url"] == "https://hooks.example.com/x"
    assert push["max_retries"] == 3
    assert sdk and sdk["overlap"] == "allow" and sdk["max_concurrency"] == 4
    assert sdk["jitter_seconds"] == 30 and sdk["webhook_url"] is None
    assert cmd and cmd["command"] == "echo hi" and cmd["overlap"] == "buffer_one"
    assert cmd["target"] == {"tags": ["db", "eu"], "mode": "all"} and cmd["catch_up"] == "all"
    assert cmd["after"] == {"jobs": ["form-push"], "on": "completion", "within_seconds": 600}
    assert beat and beat["grace_seconds"] == 600 and beat["cron_expression"] == "0 3 * * *"

    # a name in use is refused (the definition would update that job)
    r = await web.post("/ui/new", **{**NEW, "type": "sdk", "name": "form-sdk"})
    assert r.status_code == 400 and "already exists" in r.text


async def test_edit_changes_each_field_and_keeps_the_rest(web: Browser) -> None:
    api = web.api
    ch = await api.client.post("/org/channels", headers=api.admin,
                               json={"name": "ops", "kind": "email",
                                     "addresses": ["a@example.com"]})
    assert ch.status_code in (200, 201), ch.text
    for name in ("chat", "pager"):
        r = await api.client.post("/org/channels", headers=api.admin,
                                  json={"name": name, "kind": "slack",
                                        "url": "https://chat.example.com/h"})
        assert r.status_code in (200, 201), r.text
    await api.define(name="edit-upstream")
    push = await api.define(name="edit-push", webhook_url="https://a.example.com/h",
                            alert_after_failures=3, channels=["ops"], after=["edit-upstream"],
                            skip_next=2)
    page = await web.b.get(f"/ui/jobs/{push['id']}/edit")
    assert page.status_code == 200
    _labelled(page.text)
    assert 'value="https://a.example.com/h"' in page.text and "owned by code" not in page.text
    assert re.search(r'name="channel_\d+" value="ops" checked', page.text)
    assert re.search(r'name="channel_\d+" value="chat">', page.text)
    assert 'value="edit-upstream"' in page.text
    assert 'id="alert_after_failures" name="alert_after_failures" type="number" value="3"' \
        in page.text
    changes = {
        "schedule": "0 4 * * *", "crons": "30 5 * * 1\n", "timezone": "America/New_York",
        "catch_up": "none", "overlap": "cancel_other", "jitter_seconds": "15",
        "timeout_seconds": "120", "max_retries": "5", "metadata": '{"a": [1, 2]}',
        "webhook_url": "https://b.example.com/h", "alert_after_failures": "2",
        "pause_after_failures": "5", "max_duration_seconds": "600",
        "success_within_seconds": "7200", "remind_every_seconds": "3600",
        "channels_mode": "chosen", "channel_0": "ops", "channel_2": "pager",
        "after_jobs": "edit-upstream", "after_on": "failure",
        "paused_until": "2031-01-01T06:00:00+01:00", "skip_next": "4",
    }
    r = await web.post(f"/ui/jobs/{push['id']}/edit", **{**NEW, **changes})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=edited"), r.text
    job = await web.job(push["id"])
    assert job["cron_expression"] == "0 4 * * *" and job["crons"] == ["30 5 * * 1"]
    assert job["timezone"] == "America/New_York" and job["catch_up"] == "none"
    assert job["overlap"] == "cancel_other" and job["jitter_seconds"] == 15
    assert job["timeout_seconds"] == 120 and job["max_retries"] == 5
    assert job["metadata"] == {"a": [1, 2]} and job["webhook_url"] == "https://b.example.com/h"
    assert job["id"] == push["id"] and job["type"] == "push"
    assert job["alert_after_failures"] == 2 and job["pause_after_failures"] == 5
    assert job["max_duration_seconds"] == 600 and job["success_within_seconds"] == 7200
    assert job["remind_every_seconds"] == 3600 and job["channels"] == ["ops", "pager"]
    assert job["after"] == {"jobs": ["edit-upstream"], "on": "failure", "within_seconds": 3600}
    assert job["paused_until"] == "2031-01-01T05:00:00Z" and job["skip_next"] == 4
    assert job["paused"] is True
    r = await web.post(f"/ui/jobs/{push['id']}/edit",
                       **{**NEW, "webhook_url": "https://b.example.com/h",
                          "timezone": "America/New_York", "skip_next": "2"})
    assert r.status_code == 303
    job = await web.job(push["id"])
    assert job["channels"] is None and job["alert_after_failures"] == 1
    assert job["max_duration_seconds"] is None and job["after"] is None
    assert job["skip_next"] == 2 and job["paused_until"] is None and job["paused"] is False
    page = await web.b.get(f"/ui/jobs/{push['id']}?done=edited")
    assert "Settings saved." in page.text
    # the job page shows its times in its own zone beside UTC
    assert "UTC (" in page.text and ("EST" in page.text or "EDT" in page.text)

    sdk = await api.define(name="edit-sdk", schedule="*/5 * * * *")
    page = await web.b.get(f"/ui/jobs/{sdk['id']}/edit")
    assert "owned by code" in page.text and "next worker start" in page.text
    r = await web.post(f"/ui/jobs/{sdk['id']}/edit",
                       **{**NEW, "schedule": "15 * * * *", "overlap": "allow",
                          "max_concurrency": "2", "name": "ignored", "type": "push"})
    assert r.status_code == 303, r.text
    job = await web.job(sdk["id"])
    assert job["cron_expression"] == "15 * * * *" and job["max_concurrency"] == 2
    assert job["name"] == "edit-sdk" and job["type"] == "sdk"

    cmd = await api.define(name="edit-cmd", command="echo a", target={"host": "db1"})
    page = await web.b.get(f"/ui/jobs/{cmd['id']}/edit")
    assert 'value="db1"' in page.text and "echo a" in page.text
    r = await web.post(f"/ui/jobs/{cmd['id']}/edit",
                       **{**NEW, "command": "echo b", "target_host": "",
                          "target_tags": "eu"})
    assert r.status_code == 303, r.text
    job = await web.job(cmd["id"])
    assert job["command"] == "echo b" and job["target"] == {"tags": ["eu"], "mode": "any"}

    beat = await api.define(name="edit-beat", type="heartbeat", grace_seconds=300)
    r = await web.post(f"/ui/jobs/{beat['id']}/edit",
                       **{**NEW, "grace_seconds": "900", "schedule": "@hourly"})
    assert r.status_code == 303, r.text
    job = await web.job(beat["id"])
    assert job["grace_seconds"] == 900 and job["type"] == "heartbeat"
    assert job["ping_uuid"] == beat["ping_uuid"]


async def test_every_bad_field_at_once_with_values_kept(web: Browser) -> None:
    bad = {**NEW, "type": "push", "name": "ab", "schedule": "61 * * * *",
           "timezone": "Europe/Berln", "timeout_seconds": "abc", "max_retries": "500",
           "metadata": "[1, 2]", "webhook_url": "ftp://x.example.com/", "jitter_seconds": "-1",
           "crons": "nope", "alert_after_failures": "0", "remind_every_seconds": "5",
           "channels_mode": "chosen", "channel_0": "no-such-channel",
           "after_jobs": "no-such-job", "paused_until": "tomorrow", "skip_next": "5000"}
    r = await web.post("/ui/new", **bad)
    assert r.status_code == 400
    text = html.unescape(r.text)
    for field in ("name", "schedule", "timezone", "timeout_seconds", "max_retries",
                  "metadata", "webhook_url", "jitter_seconds", "crons",
                  "alert_after_failures", "remind_every_seconds", "paused_until",
                  "skip_next"):
        assert f'id="{field}-error"' in r.text, field
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', r.text), field
    assert 'id="channels-error"' in r.text and "no-such-channel" in text
    assert 'id="after-error"' in r.text and "no-such-job" in text
    assert "15 fields to fix" in text and 'role="alert"' in r.text
    assert "Did you mean Europe/Berlin?" in text
    assert 'value="Europe/Berln"' in r.text and 'value="abc"' in r.text
    assert 'value="ftp://x.example.com/"' in r.text and "[1, 2]" in text
    assert await web.by_name("ab") is None
    # the live preview says it too, as you type
    r = await web.b.get("/ui/new/preview", params={"schedule": "0 2 * * *",
                                                   "timezone": "Europe/Berln"})
    assert "Did you mean Europe/Berlin?" in html.unescape(r.text)

    # a blank URL for a push job, a blank command for a command job
    r = await web.post("/ui/new", **{**NEW, "type": "push", "name": "blank-url"})
    assert r.status_code == 400 and 'id="webhook_url-error"' in r.text
    r = await web.post("/ui/new", **{**NEW, "type": "command", "name": "blank-cmd"})
    assert r.status_code == 400 and 'id="command-error"' in r.text
    # a rule between fields (a limit needs overlap allow), named by the services
    r = await web.post("/ui/new", **{**NEW, "type": "sdk", "name": "limit-skip",
                                      "max_concurrency": "3"})
    assert r.status_code == 400 and "max_concurrency" in r.text
    assert await web.by_name("limit-skip") is None

    job = await web.api.define(name="kept-as-is", webhook_url="https://a.example.com/h")
    r = await web.post(f"/ui/jobs/{job['id']}/edit",
                       **{**NEW, "timezone": "america/new_yrok", "max_retries": "x",
                          "webhook_url": "https://b.example.com/h"})
    assert r.status_code == 400
    assert "Did you mean America/New_York?" in html.unescape(r.text)
    assert 'value="https://b.example.com/h"' in r.text
    after = await web.job(job["id"])
    assert after["webhook_url"] == "https://a.example.com/h" and after["timezone"] == "UTC"


async def test_forged_csrf_changes_nothing(web: Browser) -> None:
    job = await web.api.define(name="csrf-kept", schedule="0 1 * * *")
    r = await web.b.post("/ui/new", data={**NEW, "type": "sdk", "name": "forged",
                                          "csrf": "forged"})
    assert r.status_code == 403
    r = await web.b.post(f"/ui/jobs/{job['id']}/edit",
                         data={**NEW, "schedule": "0 2 * * *", "csrf": "forged"})
    assert r.status_code == 403
    r = await web.b.post(f"/ui/jobs/{job['id']}/edit", data={**NEW, "schedule": "0 2 * * *"})
    assert r.status_code == 403
    assert await web.by_name("forged") is None
    assert (await web.job(job["id"]))["cron_expression"] == "0 1 * * *"


async def test_deleted_and_foreign_jobs_are_404(web: Browser) -> None:
    api = web.api
    gone = await api.define(name="soon-gone")
    await api.client.delete(f"/jobs/{gone['id']}", headers=api.admin)
    other = await api.foreign_org()
    foreign = await api.define(headers=other, name="not-yours")
    for job_id in (gone["id"], foreign["id"], 999_999):
        r = await web.b.get(f"/ui/jobs/{job_id}/edit")
        assert r.status_code == 404, job_id
        r = await web.post(f"/ui/jobs/{job_id}/edit", **{**NEW, "schedule": "0 2 * * *"})
        assert r.status_code == 404, job_id
    r = await api.client.get(f"/jobs/{foreign['id']}", headers=other)
    assert r.json()["job"]["cron_expression"] == "*/5 * * * *"


def _prefilled(page: str) -> dict[str, str]:
    """What a browser would send for the form as the page fills it in."""
    out: dict[str, str] = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or name.group(1) == "csrf":
            continue
        if re.search(r'type="(radio|checkbox)"', tag) and " checked" not in tag:
            continue
        out[name.group(1)] = html.unescape(value.group(1) if value else "")
    for name, body in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>',
                                 page, re.S):
        out[name] = html.unescape(body)
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>',
                                 page, re.S):
        picked = re.search(r'<option value="([^"]*)" selected>', body)
        out[name] = html.unescape(picked.group(1)) if picked else ""
    return out


async def test_saving_an_edit_form_unchanged_changes_nothing(web: Browser) -> None:
    api = web.api
    await api.client.post("/org/channels", headers=api.admin,
                          json={"name": "ops", "kind": "slack", "url": "https://c.example.com/h"})
    await api.define(name="rt-upstream")
    made = [
        await api.define(name="rt-push", webhook_url="https://a.example.com/h",
                         timezone="Asia/Tokyo", crons=["0 1 * * *"], jitter_seconds=20,
                         overlap="buffer_one", max_retries=2, metadata={"k": ["v", 1]},
                         alert_after_failures=2, channels=["ops"], pause_after_failures=4,
                         after={"jobs": ["rt-upstream"], "on": "completion",
                                "within_seconds": 99}, catch_up="all", skip_next=3),
        await api.define(name="rt-sdk", overlap="allow", max_concurrency=3,
                         remind_every_seconds=900, timeout_seconds=7200),
        await api.define(name="rt-cmd", command="echo 'a \"b\"' <&1",
                         target={"tags": ["eu", "db"], "mode": "all"}, blocking=True),
        await api.define(name="rt-beat", type="heartbeat", grace_seconds=120,
                         schedule="@hourly", success_within_seconds=7200, channels=[]),
    ]
    for job in made:
        before = await web.job(job["id"])
        page = await web.b.get(f"/ui/jobs/{job['id']}/edit")
        r = await web.post(f"/ui/jobs/{job['id']}/edit", **_prefilled(page.text))
        assert r.status_code == 303, (job["name"], r.text[:3000])
        after = await web.job(job["id"])
        for key in ("updated_at",):
            before.pop(key), after.pop(key)
        assert after == before, job["name"]
