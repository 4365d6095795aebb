"""The dashboard's forms and query parameters with hostile values (issue 24): NULs, control
characters, invalid UTF-8, Unicode digits that ``int()`` refuses, int4 and int8 edges, in
every field of every form, signed in with a session, on SQLite and PostgreSQL. Never a 5xx
(the dashboard answers its own HTML pages, so the body is not JSON), and a refused form
changes nothing."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.api.test_isolation import _snapshot
from tests.conftest import ADMIN_KEY, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# percent-encoded form values (%ED%A0%80 is a lone surrogate's UTF-8 bytes, not UTF-8)
VALUES = ["a%00b", "%00", "%07", "%7F", "%ED%A0%80", "%FF", "%C2%B2", "%D9%A3", "", "-1",
          "2147483647", "2147483648", "9223372036854775808", "1" * 40, "x" * 3000]
FORMS: dict[str, dict[str, str]] = {
    "/ui/env": {"env_id": "1", "next": "/ui/"},
    "/ui/new": {"name": "dash-fuzz", "webhook_url": "https://example.com/h",
                "schedule": "*/5 * * * *", "timezone": "UTC", "timeout_seconds": "60",
                "max_retries": "0"},
    "/ui/new?type=command": {"type": "command", "name": "dash-cmd", "command": "echo hi",
                             "target_host": "db1", "target_tags": "eu", "target_mode": "any",
                             "schedule": "*/5 * * * *", "crons": "0 1 * * *",
                             "catch_up": "latest", "overlap": "allow", "max_concurrency": "2",
                             "jitter_seconds": "0", "metadata": "{}"},
    "/ui/new?type=heartbeat": {"type": "heartbeat", "name": "dash-beat",
                               "schedule": "@hourly", "grace_seconds": "60"},
    "/ui/jobs/{job}/edit": {"schedule": "*/7 * * * *", "timezone": "UTC", "crons": "",
                            "catch_up": "none", "overlap": "skip", "max_concurrency": "",
                            "jitter_seconds": "5", "timeout_seconds": "30",
                            "max_retries": "1", "metadata": '{"a": 1}',
                            "alert_after_failures": "2", "remind_every_seconds": "600",
                            "channels_mode": "all", "after_jobs": "", "after_within": "60",
                            "paused_until": "", "skip_next": "0"},
    "/ui/jobs/{job}/webhook": {"webhook_url": "https://example.com/w"},
    "/ui/settings/keys": {"name": "dash-key"},
    "/ui/settings/environments": {"name": "dash-env"},
    "/ui/settings/emails": {"email": "dash@example.com"},
    "/ui/settings/emails/remove": {"email": "dash@example.com"},
    "/ui/settings/channels": {"name": "dash-ch", "kind": "slack",
                              "destination": "https://example.com/s"},
}
QUERIES = ["/ui/jobs/{job}?before=", "/ui/jobs/{job}/explain?at=", "/ui/jobs/{job}/live?before=",
           "/ui/new/preview?schedule=", "/ui/new/preview?schedule=*+*+*+*+*&timezone=",
           "/ui/login?next=", "/ui/jobs/", "/ui/jobs?page=", "/ui/live/jobs?page=",
           "/ui/jobs/{job}/runs/", "/ui/settings?done="]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"rate_limit_per_second": 0, "auth_failure_limit": 0}


def _form(fields: dict[str, str], csrf: str) -> bytes:
    pairs = [f"{k}={v}" for k, v in {**fields, "csrf": csrf}.items()]
    return "&".join(pairs).encode("ascii")


async def _signed_in(b: httpx.AsyncClient, failures: list[Any]) -> str:
    """Try the sign-in form with every value, then sign in; the settings page's CSRF token."""
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    token = CSRF.search((await b.get("/ui/login")).text).group(1)  # type: ignore[union-attr]
    for v in VALUES:
        r = await b.post("/ui/login", content=_form({"api_key": v}, token), headers=form_type)
        if r.status_code >= 500:
            failures.append(("/ui/login", v, r.status_code))
    token = CSRF.search((await b.get("/ui/login")).text).group(1)  # type: ignore[union-attr]
    r = await b.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf": token})
    assert r.status_code == 303, r.text
    return CSRF.search((await b.get("/ui/settings")).text).group(1)  # type: ignore


async def _forms(api: Api, b: httpx.AsyncClient, token: str, job_id: int,
                 failures: list[Any]) -> None:
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    for path, fields in FORMS.items():
        url = path.replace("{job}", str(job_id))
        for field in fields:
            before = await _snapshot(api)
            refused = True
            for v in VALUES:
                r = await b.post(url, content=_form({**fields, field: v}, token),
                                 headers=form_type)
                if r.status_code >= 500:
                    failures.append((url, field, v, r.status_code, r.text[:200]))
                refused = refused and r.status_code >= 400
            if refused and await _snapshot(api) != before:
                failures.append((url, field, "a refused form changed something"))


async def test_dashboard_forms_and_queries_with_hostile_values_never_5xx(api: Api) -> None:
    job = await api.define(name="dash-job")
    failures: list[Any] = []
    async with httpx.AsyncClient(transport=api.client._transport,
                                 base_url="http://schedo.test") as b:
        token = await _signed_in(b, failures)
        await _forms(api, b, token, job["id"], failures)
        urls = [q.replace("{job}", str(job["id"])) + v for q in QUERIES for v in VALUES]
        urls += [f"/ui/jobs/{quote(v, safe='%')}" for v in VALUES if v]
        for url in urls:
            r = await b.get(url)
            if r.status_code >= 500:
                failures.append((url, r.status_code, r.text[:200]))
    assert not failures, "\n".join(map(repr, failures[:40]))
