"""A server outage loses no finished result (issue 16, point 5; SPEC 6: "never loses a result
it has not reported").

A real ``schedo serve`` process and a real SDK worker: the worker claims a run, the server is
stopped while the handler runs (an orderly SIGTERM on SQLite, a SIGKILL on PostgreSQL: both
ways a server goes away are covered without running the slow test twice per database), and
comes back after the run's deadline passed. The worker kept its result and reports it once
the server is back; the restart grace (docs/semantics.md, "Deadlines") keeps the run from
expiring first, so the run completes with the worker's result and no "failing" notification
is recorded.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, wait_until
from tests.support.worker import WorkerProcess

APP = "tests/e2e/apps/outage.py:app"


@pytest.mark.slow
def test_a_result_finished_during_an_outage_is_kept(db_url: str, tmp_path: Path) -> None:
    name = f"e2e-outage-{uuid.uuid4().hex[:6]}"
    server = ServerProcess(db_url, tmp_path).start()
    worker = WorkerProcess([APP], tmp_path, url=server.url,
                           E2E_OUTAGE_JOB=name, E2E_OUTAGE_SECONDS="2")
    try:
        with server.client() as c:
            job = wait_until(lambda: next((j for j in c.get("/jobs").json()
                                           if j["name"] == name), None), 30, what="definition")
            wait_until(lambda: c.get(f"/jobs/{job['id']}").json()["connections_count"] == 1,
                       30, what="the worker's connection")
            run = c.post(f"/jobs/trigger/{job['id']}").json()
            wait_until(lambda: c.get(f"/jobs/executions/{job['id']}").json()[0]["status"]
                       == "running", 10, what="the worker to claim the run")
        # the outage, while the handler runs
        if db_url.startswith("sqlite"):
            assert server.stop() == 0, server.log()
        else:
            server.kill()
        down_at = time.monotonic()
        # the run deadline (timeout 5 s + 5 s grace after pick-up) passes while no server runs
        wait_until(lambda: time.monotonic() - down_at > 12, 15, interval=0.5, what="downtime")
        server.start()
        up_at = time.monotonic()
        with server.client() as c:

            def ended() -> dict | None:
                try:
                    e = next(x for x in c.get(f"/jobs/executions/{job['id']}").json()
                             if x["id"] == run["id"])
                except httpx.HTTPError:
                    return None
                return e if e["status"] not in ("pending", "running") else None

            done = wait_until(ended, 40, interval=0.2, what="the run to end")
            assert done["status"] == "completed", (done, worker.log())
            assert done["output"] == f"result of execution {run['id']}"
            # the worker was back within a few seconds of the server (its reconnect backoff is
            # capped), well inside the restart grace
            assert time.monotonic() - up_at < 15, worker.log()
            notes = c.get("/org/notifications").json()
            assert [n for n in notes if n.get("job_id") == job["id"]] == [], notes
            assert c.get(f"/jobs/{job['id']}").json()["job"]["status"] == "completed"
        assert worker.stop() == 0, worker.log()
    finally:
        worker.kill()
        server.kill()
