"""dashboard: the dashboard's job page (``GET /ui/jobs/{id}``) of a job with a long history
(10,000 runs at the default size), signed in the way a browser is (the login form, its CSRF
cookie, the session cookie), one request at a time on one keep-alive connection.

Issue 18's target: the page renders in ≤ 20 ms of server time. Measured: the latency of each
request as the client sees it (loopback; p50/p99) and the server's CPU per request (from
/proc, over all the requests), plus the same for the page's older history (``?before=``, the
"older runs" link) and for ``/healthz`` on the same connection as the floor.

Runs are bulk-loaded with SQL (bench/loader.py: completed runs one millisecond apart) into a
fresh SQLite file; 99 other jobs with 20 runs each share the environment, as in ``api``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx

from . import loader
from .common import ADMIN_KEY, BenchError, Check, Report, Server, fresh_db, proc_cpu_s, summary

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"runs": 1_000, "requests": 30, "warmup": 5},
    "default": {"runs": 10_000, "requests": 300, "warmup": 20},
    "full": {"runs": 100_000, "requests": 1_000, "warmup": 50},
}
TARGET_MS = 20.0
OTHER_JOBS = 99
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _sign_in(c: httpx.Client) -> None:
    form = c.get("/ui/login")
    m = _CSRF.search(form.text)
    if form.status_code != 200 or m is None:
        raise BenchError(f"dashboard: no sign-in form ({form.status_code})")
    r = c.post("/ui/login", data={"csrf": m.group(1), "next": "/ui/", "api_key": ADMIN_KEY})
    if r.status_code != 303 or not c.cookies:
        raise BenchError(f"dashboard: sign-in failed ({r.status_code}): {r.text[:200]}")


def _measure(srv: Server, c: httpx.Client, path: str, n: int, warmup: int,
             marker: str | None) -> dict[str, Any]:
    for _ in range(warmup):
        c.get(path)
    latencies: list[float] = []
    cpu0 = proc_cpu_s(srv.pid)
    for _ in range(n):
        t = time.perf_counter()
        r = c.get(path)
        latencies.append(time.perf_counter() - t)
        if r.status_code != 200 or (marker is not None and marker not in r.text):
            raise BenchError(f"dashboard {path}: {r.status_code} {r.text[:200]}")
    cpu = proc_cpu_s(srv.pid) - cpu0
    return {**summary(latencies), "server_cpu_ms_per_request": 1000 * cpu / n,
            "bytes": len(r.content)}


def run(size: str, workdir: Path) -> Report:
    p = dict(SIZES[size])
    rep = Report("dashboard", size, p)
    srv = Server(fresh_db(workdir / "dashboard.db"), workdir).start()
    try:
        conn = loader.connect(srv.db_path)
        try:
            env = loader.env_id(conn)
            names = ["dash-job", *(f"dash-other-{i:03d}" for i in range(OTHER_JOBS))]
            never = loader.never_ms()
            loader.insert_jobs(conn, env, [(nm, loader.NEVER, never) for nm in names], 60)
            ids = loader.job_ids(conn, env, "dash-")
            base = loader.now_ms() - 86_400_000
            loader.insert_executions(conn, env, {"dash-job": ids["dash-job"]}, int(p["runs"]),
                                     "completed", base)
            others = {k: v for k, v in ids.items() if k != "dash-job"}
            loader.insert_executions(conn, env, others, 20, "completed", base + 10_000_000)
            oldest_half = conn.execute(
                "SELECT id FROM executions WHERE job_id = ? ORDER BY id LIMIT 1 OFFSET ?",
                (ids["dash-job"], int(p["runs"]) // 2),
            ).fetchone()[0]
        finally:
            conn.close()
        job = ids["dash-job"]
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            _sign_in(c)
            n, w = int(p["requests"]), int(p["warmup"])
            results = {
                "healthz": _measure(srv, c, "/healthz", n, w, None),
                "job_page": _measure(srv, c, f"/ui/jobs/{job}", n, w, "dash-job"),
                "job_page_older": _measure(
                    srv, c, f"/ui/jobs/{job}?before={oldest_half}", n, w, "dash-job"
                ),
            }
    finally:
        srv.stop()
    rep.results = results
    labels = {
        "healthz": "GET /healthz (floor)",
        "job_page": f"GET /ui/jobs/{{id}} ({int(p['runs']):,} runs)",
        "job_page_older": "GET /ui/jobs/{id}?before=<run in the middle> (older runs)",
    }
    rep.headers = ["page", "p50 ms", "p99 ms", "server CPU/request", "bytes"]
    rep.rows = [
        [labels[k], f"{1000 * v['p50']:.1f}", f"{1000 * v['p99']:.1f}",
         f"{v['server_cpu_ms_per_request']:.1f} ms", f"{v['bytes']:,}"]
        for k, v in results.items()
    ]
    page = results["job_page"]
    worst = max(1000 * page["p50"], page["server_cpu_ms_per_request"])
    rep.checks.append(Check(
        "job page server time (10,000 runs)", f"≤ {TARGET_MS:.0f} ms",
        f"p50 {1000 * page['p50']:.1f} ms, {page['server_cpu_ms_per_request']:.1f} ms CPU",
        worst <= TARGET_MS if int(p["runs"]) >= 10_000 else None,
    ))
    rep.notes.append(
        "one keep-alive connection, signed in through the login form; latency includes "
        "the loopback round trip and httpx (the /healthz row is that floor)"
    )
    return rep
