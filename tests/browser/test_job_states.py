"""What the dashboard says about a job agrees with the API (issue 16, point 8).

- Connections: the jobs table and the job page show the API's ``connections_count`` for every
  job type — a command job served by a real ``schedo agent`` process shows "1 agent", not
  "n/a"; a push job shows the API's count (0: the server calls the URL itself).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.support.server import child_env, wait_until

from .conftest import DashboardServer, Receiver
from .test_dashboard import new_page, sign_in

NEVER = "0 0 1 1 *"  # once a year: only runs we start ourselves


def define(c: httpx.Client, body: dict[str, Any]) -> int:
    r = c.post("/jobs/definition", json={"schedule": NEVER, **body})
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


def api_counts(c: httpx.Client) -> dict[str, int]:
    return {e["job"]["name"]: e["connections_count"] for e in c.get("/jobs/list").json()}


def test_connections_are_the_apis_for_every_job_type(
    browser: Any, server: DashboardServer, receiver: Receiver, tmp_path: Path
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
