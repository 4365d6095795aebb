"""Heartbeat pings end to end: a real ``schedo serve`` process, pinged by ``curl`` from shell
lines written as a crontab would run them (healthchecks.io style: only the host changes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.server import ServerProcess, wait_until


def sh(line: str) -> subprocess.CompletedProcess[str]:
    """One crontab command line, run by /bin/sh as cron does."""
    return subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})


def test_crontab_lines_ping_a_real_server(tmp_path: Path) -> None:
    srv = ServerProcess(f"sqlite:///{tmp_path / 'schedo.db'}", tmp_path).start()
    try:
        with srv.client() as c:
            job = c.post("/jobs/definition", json={
                "name": "db-backup", "schedule": "@every 1h", "type": "heartbeat",
                "grace_seconds": 600}).json()
            ping = c.get(f"/jobs/{job['id']}").json()["ping"]
            url = ping["url"].replace("http://127.0.0.1:8000", srv.url)
            slug = ping["slug_url"].replace("http://127.0.0.1:8000", srv.url)
            # start, work, then the job's output as the body of the success ping
            line = (f"curl -fsS -m 10 --retry 5 -o /dev/null {url}/start && sleep 1 && "
                    f"echo 'dumped 42 tables' | curl -fsS -m 10 --retry 5 --data-binary @- "
                    f"-o /dev/null {url}")
            assert sh(line).returncode == 0
            # the exit status of the command, by the environment's slug URL
            assert sh(f"false; curl -fsS -m 10 -o /dev/null {slug}/$?").returncode == 0
            runs = c.get(f"/jobs/executions/{job['id']}").json()  # newest first
            assert [(r["status"], r["exit_code"]) for r in runs] == [
                ("failed", 1), ("completed", None)]
            assert runs[1]["output"] == "dumped 42 tables\n"
            assert runs[1]["duration"] >= 1000
            assert runs[0]["error"] == "the job pinged exit status 1"
            # an unknown uuid: curl -f fails (HTTP 404), nothing is recorded
            bad = sh(f"curl -fsS -m 10 -o /dev/null {srv.url}/ping/"
                     "11111111-2222-3333-4444-555555555555")
            assert bad.returncode == 22 and "404" in bad.stderr
            got = c.get(f"/jobs/{job['id']}").json()["job"]
            assert got["status"] == "failed" and got["consecutive_failures"] == 1
            wait_until(lambda: [n["kind"] for n in c.get("/org/notifications").json()]
                       == ["failing"], 10, what="the failing notice")
    finally:
        assert srv.stop() == 0, srv.log()
