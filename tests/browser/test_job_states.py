"""What the dashboard says about a job agrees with the API (issue 16, point 8).

- Connections: the jobs table and the job page show the API's ``connections_count`` for every
  job type — a command job served by a real ``schedo agent`` process shows "1 agent", not
  "n/a"; a push job shows the API's count (0: the server calls the URL itself).
- A failing job whose retry waits (its failed attempt ended, the retry is pending until its
  backoff ends) is shown failing with the retry and its due time on the jobs table, the
  overview and the job page, and the "Failing" filter finds it; the API keeps calling its
  status ``pending``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.support.server import ServerProcess, child_env, wait_until

from .conftest import Receiver
from .test_dashboard import new_page, sign_in

NEVER = "0 0 1 1 *"  # once a year: only runs we start ourselves


def define(c: httpx.Client, body: dict[str, Any]) -> int:
    r = c.post("/jobs/definition", json={"schedule": NEVER, **body})
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


def api_counts(c: httpx.Client) -> dict[str, int]:
    return {e["job"]["name"]: e["connections_count"] for e in c.get("/jobs/list").json()}


def test_connections_are_the_apis_for_every_job_type(
    browser: Any, server: ServerProcess, receiver: Receiver, tmp_path: Path
) -> None:
    with server.client() as c:
        cmd_id = define(c, {"name": "conn-command", "command": "true"})
        push_id = define(c, {"name": "conn-push", "webhook_url": receiver.url + "/ok"})
        define(c, {"name": "conn-sdk"})
    out = open(tmp_path / "agent.log", "w")
    agent = subprocess.Popen(
        [sys.executable, "-m", "schedo.cli", "agent", "--jobs", "conn-command",
         "--url", server.url, "--key", server.admin_key or ""],
        env=child_env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    page = new_page(browser)
    try:
        with server.client() as c:
            def served() -> bool:
                assert agent.poll() is None, (tmp_path / "agent.log").read_text()
                return bool(c.get(f"/jobs/{cmd_id}").json()["connections_count"] == 1)

            wait_until(served, 20, what="the agent to count as a connection of its job")
            counts = api_counts(c)
            assert counts["conn-command"] == 1
            assert counts["conn-push"] == c.get(f"/jobs/{push_id}").json()["connections_count"]
        sign_in(page, server.url, server.admin_key or "")
        page.goto(server.url + "/ui/jobs?q=conn-")
        rows = page.locator("#jobs-table tbody tr")
        expect(rows).to_have_count(3)
        nouns = {"conn-command": "agent", "conn-sdk": "worker", "conn-push": "connection"}
        for name, noun in nouns.items():
            n = counts[name]
            cell = rows.filter(has_text=name).locator("td[data-label=Connections]")
            expect(cell).to_contain_text(f"{n} {noun}{'s' if n != 1 else ''}")
            expect(cell).not_to_contain_text("n/a")
        page.get_by_role("link", name="conn-command").click()
        expect(page.locator("#job-connections")).to_contain_text("1 agent")
        page.goto(f"{server.url}/ui/jobs/{push_id}")
        expect(page.locator("#job-connections")).to_contain_text(
            f"{counts['conn-push']} connection")
        expect(page.locator("#job-connections")).to_contain_text("the server calls the URL")
    finally:
        page.context.close()
        agent.terminate()  # our own process, by its handle
        try:
            agent.wait(45)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(5)
        out.close()


RETRY_NOTE = re.compile(r"retry ([1-3])/3 at (\d\d):(\d\d):(\d\d) UTC")


def _due_is_soon(text: str) -> bool:
    """The due time shown is within a minute of now (the first backoff is 10 s ± 20 %)."""
    m = RETRY_NOTE.search(text)
    assert m, text
    h, mi, s = (int(x) for x in m.groups()[1:])
    now = datetime.now(UTC)
    shown = h * 3600 + mi * 60 + s
    diff = (shown - (now.hour * 3600 + now.minute * 60 + now.second)) % 86400
    return diff < 60 or diff > 86400 - 60


def test_a_failing_job_waiting_for_its_retry_shows_as_failing(
    browser: Any, server: ServerProcess, receiver: Receiver
) -> None:
    with server.client() as c:
        job_id = define(c, {"name": "flaky-webhook", "webhook_url": receiver.url + "/fail",
                            "max_retries": 3})
        assert c.post(f"/jobs/trigger/{job_id}").status_code == 200

        def retry_waits() -> dict[str, Any] | None:
            got = c.get(f"/jobs/{job_id}").json()
            last = got["last_run"] or {}
            if last.get("trigger") == "retry" and last.get("status") == "pending":
                return dict(got)
            return None

        # the first attempt failed (HTTP 500); its retry waits out the 10 s backoff
        got = wait_until(retry_waits, 15, what="the first attempt to fail and its retry to wait")
        assert got["job"]["status"] == "pending"  # the API's word for it stays the same
        assert got["job"]["retry_count"] >= 1
    page = new_page(browser)
    try:
        sign_in(page, server.url, server.admin_key or "")
        # the overview: counted and listed as failing, with the retry
        page.goto(server.url + "/ui/")
        failing = page.locator("#overview section", has=page.locator("#failing-h"))
        expect(failing.locator("li", has_text="flaky-webhook")).to_contain_text("Failing")
        expect(failing.locator("li", has_text="flaky-webhook")).to_contain_text(RETRY_NOTE)
        expect(page.locator(".stat").nth(2).locator(".num")).not_to_have_text("0")
        # the jobs table: a red "Failing" badge, the retry and its due time; no grey Pending
        page.goto(server.url + "/ui/jobs?q=flaky")
        status = page.locator("#jobs-table tbody tr", has_text="flaky-webhook").locator(
            "td[data-label=Status]")
        expect(status.locator(".badge.bad")).to_contain_text("Failing")
        expect(status).to_contain_text(RETRY_NOTE)
        expect(status).not_to_contain_text("Pending")
        assert _due_is_soon(status.inner_text())
        # the "Failing" filter finds it, "Pending" does not
        page.goto(server.url + "/ui/jobs?q=flaky&status=failed")
        expect(page.locator("#jobs-table tbody tr")).to_have_count(1)
        page.goto(server.url + "/ui/jobs?q=flaky&status=pending")
        expect(page.locator("#jobs-table")).to_contain_text("No job matches")
        # the job page
        page.goto(f"{server.url}/ui/jobs/{job_id}")
        summary = page.locator("#job-summary")
        expect(summary.locator(".badge.bad")).to_contain_text("Failing")
        expect(summary).to_contain_text(RETRY_NOTE)
        expect(summary).not_to_contain_text("Pending")
    finally:
        page.context.close()
        with server.client() as c:  # no more retries in the background of other tests
            c.delete(f"/jobs/{job_id}")
