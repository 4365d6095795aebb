"""precision: one job every second for D seconds, one worker on the SSE stream.

Schedo: job ``* * * * * *`` (6 fields, seconds first), claimed by bench/sse_worker.py through
``GET /jobs/executions/sse``; lateness = pick_up_time - scheduled_for (server clock, ms
resolution), and, as a second figure, the event's arrival at the worker - scheduled_for.
The floor: APScheduler 3 with its in-memory store in this process, running at the same time
(same machine noise), lateness = the job's start - the whole second.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from . import loader
from .common import (
    ADMIN_KEY,
    ROOT,
    BenchError,
    Check,
    Report,
    Server,
    clean_env,
    fmt_ratio,
    fmt_s,
    fresh_db,
    stop_process,
    summary,
    wait_until,
)

CODE = "bench-precision"
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"duration": 5},
    "default": {"duration": 60},
    "full": {"duration": 60},
}


def _ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def run(size: str, workdir: Path, duration: int | None = None, baselines: bool = True) -> Report:
    p = dict(SIZES[size])
    if duration is not None:
        p["duration"] = duration
    d = int(p["duration"])
    rep = Report("precision", size, p)
    srv = Server(fresh_db(workdir / "precision.db"), workdir).start()
    out = workdir / "sse-received.json"
    out.unlink(missing_ok=True)
    worker: subprocess.Popen[bytes] | None = None
    floor: Any = None
    try:
        env = clean_env(SCHEDO_API_KEY=ADMIN_KEY, SCHEDO_BASE_URL=srv.url)
        with open(workdir / "sse-worker.log", "ab") as log:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.sse_worker",
                    "--jobs",
                    CODE,
                    "--seconds",
                    str(d + 8),
                    "--out",
                    str(out),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        conn = loader.connect(srv.db_path)
        wait_until(lambda: loader.connected_codes(conn, CODE) >= 1, 30, what="SSE worker")
        if baselines:
            from .baselines.aps import Precision

            floor = Precision().__enter__()
        with srv.client() as c:
            r = c.post(
                "/jobs/definition",
                json={"name": CODE, "schedule": "* * * * * *", "timeout_seconds": 10},
            )
            if r.status_code != 200:
                raise BenchError(f"define refused: {r.status_code} {r.text}")
            job_id = r.json()["id"]
            start = math.floor(time.time()) + 2
            end = start + d
            time.sleep(max(0.0, end + 1.5 - time.time()))
            c.patch(f"/jobs/pause/{job_id}")
        if floor is not None:
            floor.__exit__(None, None, None)
        rows = [r for r in loader.runs(conn, CODE, start * 1000) if r[0] < end * 1000]
        conn.close()
        worker.terminate()  # it writes what it received, then exits
        worker.wait(30)
    finally:
        if floor is not None:
            floor.__exit__(None, None, None)
        stop_process(worker)
        srv.stop()
    late = [(pk - s) / 1000 for s, pk, *_ in rows if pk is not None]
    got = json.loads(out.read_text()) if out.exists() else {"received": [], "errors": []}
    delivered = [at - _ts(sf) for _i, sf, at in got["received"] if start <= _ts(sf) < end]
    res: dict[str, Any] = {
        "window": [start, end],
        "schedo_pickup": summary(late, d, float(d)),
        "schedo_delivered": summary(delivered, d, float(d)),
        "statuses": {st: sum(1 for r in rows if r[3] == st) for st in {r[3] for r in rows}},
        "worker_errors": got["errors"][:10],
    }
    rep.headers = ["system", "runs", "p50 late", "p99 late", "max late", "p99 vs floor"]
    floor_p99 = math.nan
    if floor is not None:
        fl = summary(floor.lateness(start, end), d, float(d))
        res["apscheduler_memory"] = fl
        floor_p99 = fl["p99"]
    for key, label in (
        ("schedo_pickup", "Schedo: pick_up_time - scheduled_for (server)"),
        ("schedo_delivered", "Schedo: SSE event at worker - scheduled_for"),
        ("apscheduler_memory", "APScheduler 3 in memory (floor)"),
    ):
        if key not in res:
            continue
        s = res[key]
        ratio = s["p99"] / floor_p99 if floor_p99 and key != "apscheduler_memory" else math.nan
        rep.rows.append(
            [
                label,
                f"{s['n']}/{d}",
                fmt_s(s["p50"], s["p50_censored"]),
                fmt_s(s["p99"], s["p99_censored"]),
                fmt_s(s["max"], s["max_censored"]),
                fmt_ratio(ratio),
            ]
        )
    rep.results = res
    sp = res["schedo_pickup"]
    rep.checks.append(
        Check(
            "schedo p99 lateness (pick-up)",
            "≤ 20 ms",
            fmt_s(sp["p99"], sp["p99_censored"]),
            not sp["p99_censored"] and sp["p99"] <= 0.020,
        )
    )
    if got["errors"]:
        rep.notes.append(f"SSE worker errors: {got['errors'][:3]}")
    if sp["n"] < d:
        raise BenchError(
            f"precision: {sp['n']} of {d} runs were picked up (statuses {res['statuses']})"
        )
    return rep
