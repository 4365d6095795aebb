"""2,000 jobs due in the same second, 4 worker processes: every run completes. The pick-up
lateness (pick_up_time - scheduled instant) is reported as a figure, not asserted: speed is
measured in bench/, never with timed assertions."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.server import ADMIN_KEY, ServerProcess, child_env, wait_until

ROOT = Path(__file__).resolve().parents[2]
JOBS = 2000
WORKERS = 4


def _ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


@pytest.mark.slow
def test_two_thousand_jobs_due_in_the_same_second(tmp_path: Path) -> None:
    srv = ServerProcess(f"sqlite:///{tmp_path / 'herd.db'}", tmp_path).start()
    env = child_env(SCHEDO_API_KEY=ADMIN_KEY, SCHEDO_BASE_URL=srv.url, E2E_MANY_JOBS=str(JOBS),
                    E2E_MANY_SCHEDULE="0 * * * * *", E2E_MANY_TIMEOUT="60",
                    E2E_MANY_CONCURRENCY="100", SCHEDO_LOG_LEVEL="INFO")  # lean logs: a herd
    workers = []
    try:
        # the first worker defines the jobs; the others start once they exist
        for i in range(WORKERS):
            with open(tmp_path / f"worker-{i}.log", "ab") as log:
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "schedo.cli", "worker", "tests/e2e/apps/many.py:app"],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
            if i == 0:
                wait_until(lambda: len(httpx.get(srv.url + "/jobs", headers=srv.headers,
                                                 timeout=30).json()) == JOBS, 120,
                           interval=0.5, what="2,000 definitions")
        with srv.client() as c:
            first = c.get("/jobs").json()[0]["id"]
            wait_until(lambda: c.get(f"/jobs/{first}/connections/count").json() == WORKERS,
                       120, interval=0.5, what="4 workers polling")
        # every job fires at second 0 of each minute: measure the first minute boundary
        # that comes at least 5 s after all four workers are polling
        now = datetime.now(UTC)
        due = (now + timedelta(seconds=5 + 60)).replace(second=0, microsecond=0)
        if due - now > timedelta(seconds=65):
            due -= timedelta(seconds=60)
        stamp = due.strftime("%Y-%m-%dT%H:%M:%SZ")

        def runs() -> list[dict]:
            out: list[dict] = []
            with srv.client() as c:
                for j in c.get("/jobs").json():
                    out.extend(e for e in c.get(f"/jobs/executions/{j['id']}").json()
                               if e["scheduled_for"] == stamp)
            return out

        time.sleep(max(0.0, due.timestamp() - time.time()))
        all_done = wait_until(
            lambda: (lambda r: r if len(r) == JOBS and all(e["status"] == "completed"
                                                         for e in r) else None)(runs()),
            120, interval=2, what="all 2,000 runs completed")
        late = sorted(_ts(e["pick_up_time"]) - _ts(e["scheduled_for"]) for e in all_done)
        finished = max(_ts(e["end_time"]) for e in all_done) - due.timestamp()
        print(f"\nherd of {JOBS} on SQLite with {WORKERS} workers: pick-up lateness "
              f"p50={statistics.median(late):.3f}s p99={late[int(len(late) * 0.99) - 1]:.3f}s "
              f"max={late[-1]:.3f}s; all completed {finished:.2f}s after the due second")
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
        srv.stop()
