"""kill -9 the server while 20 jobs tick every second, restart it, repeat: no tick is created
twice, and none inside the catch-up window is lost (SPEC 3)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support.server import ServerProcess, wait_until

JOBS = 20


def _all_runs(srv: ServerProcess, job_id: int) -> list[dict]:
    out: list[dict] = []
    cursor = None
    with srv.client() as c:
        while True:
            q = f"/jobs/executions/{job_id}?limit=200" + (f"&cursor={cursor}" if cursor else "")
            page = c.get(q).json()
            out.extend(page)
            if len(page) < 200:
                return out
            cursor = page[-1]["id"]


@pytest.mark.slow
def test_kill_9_and_restart_loses_and_doubles_no_tick(tmp_path: Path, db_url: str) -> None:
    srv = ServerProcess(db_url, tmp_path).start()
    with srv.client() as c:
        ids = [c.post("/jobs/definition", json={"name": f"tick-{i:02d}",
                                                "schedule": "* * * * * *"}).json()["id"]
               for i in range(JOBS)]
    for _ in range(3):
        time.sleep(2.5)
        srv.kill()
        srv = ServerProcess(db_url, tmp_path, port=srv.port).start()
    wait_until(lambda: len(_all_runs(srv, ids[-1])) >= 8, 20, what="ticks after restarts")
    try:
        for jid in ids:
            runs = [r for r in _all_runs(srv, jid) if r["trigger"] == "schedule"]
            instants = [datetime.fromisoformat(r["scheduled_for"].replace("Z", "+00:00"))
                        for r in runs]
            assert len(instants) == len(set(instants)), f"job {jid}: a tick was created twice"
            first, last = min(instants), max(instants)
            expected = int((last - first).total_seconds()) + 1
            have = set(instants)
            lost = [first + timedelta(seconds=s) for s in range(expected)
                    if first + timedelta(seconds=s) not in have]
            assert not lost, f"job {jid}: lost ticks {lost[:5]}"
            assert expected >= 8
            # downtimes were seconds long (inside the grace): every tick ran, none skipped
            assert all(r["status"] != "skipped" for r in runs)
    finally:
        srv.stop()


def _instants(srv: ServerProcess, job_id: int) -> list[datetime]:
    return [datetime.fromisoformat(r["scheduled_for"].replace("Z", "+00:00"))
            for r in _all_runs(srv, job_id) if r["trigger"] == "schedule"]


@pytest.mark.slow
def test_kill_9_with_scheduling_controls_on_loses_and_doubles_no_tick(
    tmp_path: Path, db_url: str
) -> None:
    """The same kills with issue 20's controls on: H seconds, jitter, several crons, a
    buffered overlap. Each instant of each schedule is still exactly one row (run or skip
    record), none lost between the first and the last."""
    srv = ServerProcess(db_url, tmp_path).start()
    defs = {
        "hashed": {"schedule": "H/2 * * * * *"},
        "jittered": {"schedule": "* * * * * *", "jitter_seconds": 1},
        "union": {"schedule": "*/2 * * * * *", "crons": ["*/3 * * * * *"]},
        "buffered": {"schedule": "* * * * * *", "overlap": "buffer_one"},
    }
    with srv.client() as c:
        jobs = {}
        for name, body in defs.items():
            r = c.post("/jobs/definition", json={"name": f"ctl-{name}", **body})
            assert r.status_code == 200, r.text
            jobs[name] = r.json()
    # "H/2" in the seconds field resolves to "<offset>-59/2" (the offset from the job's hash)
    step = int(jobs["hashed"]["resolved_cron"].split()[0].split("/")[0].split("-")[0])
    for _ in range(3):
        time.sleep(2.5)
        srv.kill()
        srv = ServerProcess(db_url, tmp_path, port=srv.port).start()
    wait_until(lambda: len(_instants(srv, jobs["jittered"]["id"])) >= 8, 20,
               what="ticks after restarts")
    try:
        for name, job in jobs.items():
            got = _instants(srv, job["id"])
            assert len(got) == len(set(got)), f"{name}: a tick was created twice"
            first, last = min(got), max(got)
            span = [first + timedelta(seconds=s)
                    for s in range(int((last - first).total_seconds()) + 1)]
            if name == "hashed":
                wanted = [t for t in span if t.second % 2 == step % 2]
            elif name == "union":
                wanted = [t for t in span if t.second % 2 == 0 or t.second % 3 == 0]
            else:
                wanted = span
            assert sorted(got) == wanted, f"{name}: lost {sorted(set(wanted) - set(got))[:5]}"
            assert len(wanted) >= 4
    finally:
        srv.stop()
