"""api: requests per second with 64 concurrent keep-alive connections, as a ratio to the same
server's ``/healthz`` (the ceiling of the HTTP stack) measured in the same run, and p99 latency.

Routes: ``POST /jobs/definition`` (update of an existing job, same schedule),
``GET /jobs/{id}``, ``GET /jobs/executions/{id}`` (20 runs of history each), completion
``POST /jobs/executions/complete/{id}`` (one report per request, each of a distinct running
execution), and the batch extension ``POST /jobs/executions/complete`` (50 reports a request,
8 connections), and ``GET /jobs/{id}`` once more on a single connection.
Jobs and executions are bulk-loaded with SQL (bench/loader.py). The load generator is
bench/loadgen.py, in this process; it shares the 2 cores with the server, so its CPU share is
reported too.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import loader, loadgen
from .common import ADMIN_KEY, BenchError, Report, Server, fmt_ratio, fresh_db, proc_cpu_s

PREFIX = "api-"
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"jobs": 200, "duration": 1.0, "warmup": 0.3, "connections": 64, "running": 8_000},
    "default": {
        "jobs": 1_000,
        "duration": 8.0,
        "warmup": 1.0,
        "connections": 64,
        "running": 60_000,
    },
    "full": {
        "jobs": 10_000,
        "duration": 20.0,
        "warmup": 2.0,
        "connections": 64,
        "running": 150_000,
    },
}
BATCH = 50
BATCH_CONNECTIONS = 8


def _ok_batch(_status: int, body: bytes) -> bool:
    return all(item["status"] == 200 for item in json.loads(body))


def run(size: str, workdir: Path, duration: float | None = None) -> Report:
    p = dict(SIZES[size])
    if duration is not None:
        p["duration"] = duration
    rep = Report("api", size, p)
    srv = Server(fresh_db(workdir / "api.db"), workdir).start()
    results: dict[str, Any] = {}
    try:
        conn = loader.connect(srv.db_path)
        env = loader.env_id(conn)
        n_jobs = int(p["jobs"])
        never = loader.never_ms()
        names = [f"{PREFIX}{i:05d}" for i in range(n_jobs)]
        loader.insert_jobs(conn, env, ((nm, loader.NEVER, never) for nm in names))
        ids = loader.job_ids(conn, env, PREFIX)
        base = loader.now_ms() - 86_400_000
        loader.insert_executions(conn, env, ids, 20, "completed", base)
        per_job = math.ceil(int(p["running"]) / n_jobs)
        loader.insert_executions(conn, env, ids, per_job, "running", base + 10_000_000)
        running = [
            int(r[0])
            for r in conn.execute("SELECT id FROM executions WHERE status = 'running' ORDER BY id")
        ]
        conn.close()
        half = len(running) // 2
        singles, batched = running[:half], running[half:]
        job_id_list = list(ids.values())
        port = srv.port
        auth = {"x-api-key": ADMIN_KEY}
        healthz = loadgen.request("GET", "/healthz", port)
        get_job = [loadgen.request("GET", f"/jobs/{j}", port, auth) for j in job_id_list]
        get_runs = [
            loadgen.request("GET", f"/jobs/executions/{j}", port, auth) for j in job_id_list
        ]
        define = [
            loadgen.request(
                "POST",
                "/jobs/definition",
                port,
                auth,
                json.dumps({"name": nm, "schedule": loader.NEVER}).encode(),
            )
            for nm in names
        ]
        ok = json.dumps({"success": True}).encode()

        def complete(i: int) -> bytes:
            return loadgen.request(
                "POST", f"/jobs/executions/complete/{singles[i]}", port, auth, ok
            )

        def complete_batch(i: int) -> bytes:
            chunk = batched[i * BATCH : (i + 1) * BATCH]
            body = json.dumps({"results": [{"id": e, "success": True} for e in chunk]})
            return loadgen.request("POST", "/jobs/executions/complete", port, auth, body.encode())

        routes: list[tuple[str, str, Callable[[int], bytes], int, Any, int]] = [
            ("healthz", "GET /healthz", lambda i: healthz, 10**7, None, 1),
            ("get_job", "GET /jobs/{id}", lambda i: get_job[i % len(get_job)], 10**7, None, 1),
            (
                "get_job_1conn",
                "GET /jobs/{id} (1 connection)",
                lambda i: get_job[i % len(get_job)],
                10**7,
                None,
                1,
            ),
            (
                "get_executions",
                "GET /jobs/executions/{id}",
                lambda i: get_runs[i % len(get_runs)],
                10**7,
                None,
                1,
            ),
            (
                "define_update",
                "POST /jobs/definition (update)",
                lambda i: define[i % len(define)],
                10**7,
                None,
                1,
            ),
            ("complete", "POST /jobs/executions/complete/{id}", complete, len(singles), None, 1),
            (
                "complete_batch",
                f"POST /jobs/executions/complete ({BATCH}/request, 8 conns)",
                complete_batch,
                len(batched) // BATCH,
                _ok_batch,
                BATCH,
            ),
            (
                "healthz_again",
                "GET /healthz (again, at the end)",
                lambda i: healthz,
                10**7,
                None,
                1,
            ),
        ]
        labels: dict[str, tuple[str, int]] = {}
        for key, label, make, limit, check, per in routes:
            cpu0, t0 = time.process_time(), time.perf_counter()
            srv_cpu0 = proc_cpu_s(srv.pid)
            # the batch extension gets 8 connections: 64 in-flight batches of 50 would only
            # queue on the single SQLite writer (and take seconds to drain at the end); one
            # row shows GET /jobs/{id} without concurrency, for comparison
            conns = {"complete_batch": BATCH_CONNECTIONS, "get_job_1conn": 1}.get(
                key, int(p["connections"])
            )
            res = loadgen.run(
                port,
                make,
                conns,
                float(p["duration"]),
                float(p["warmup"]),
                limit,
                check,
            )
            elapsed = time.perf_counter() - t0
            client_cpu = (time.process_time() - cpu0) / elapsed
            server_cpu = (proc_cpu_s(srv.pid) - srv_cpu0) / elapsed
            # server CPU per request: over warm-up + measurement, so divide by both's requests
            total_requests = res.requests * (elapsed / res.seconds) if res.seconds else 0
            results[key] = {
                **res.to_json(),
                "client_cpu_share": client_cpu,
                "server_cpu_share": server_cpu,
                "server_cpu_ms_per_request": 1000 * server_cpu * elapsed / max(1.0, total_requests),
                "items_per_request": per,
            }
            labels[key] = (label, per)
            if res.errors:
                raise BenchError(f"api {label}: {res.errors} errors (e.g. {res.sample_error})")
            if res.requests == 0:
                raise BenchError(f"api {label}: no request completed")
    finally:
        srv.stop()
    ceiling = (results["healthz"]["rps"] + results["healthz_again"]["rps"]) / 2
    rep.headers = [
        "route",
        "req/s",
        "vs /healthz",
        "items/s",
        "p50 ms",
        "p99 ms",
        "server CPU/req",
        "server CPU",
        "client CPU",
    ]
    for key, (label, per) in labels.items():
        r = results[key]
        r["ratio_to_healthz"] = r["rps"] / ceiling if ceiling else math.nan
        rep.rows.append(
            [
                label,
                f"{r['rps']:.0f}",
                fmt_ratio(r["ratio_to_healthz"]),
                f"{r['rps'] * per:.0f}",
                f"{r['latency_p50_ms']:.1f}",
                f"{r['latency_p99_ms']:.1f}",
                f"{r['server_cpu_ms_per_request']:.2f} ms",
                f"{100 * r['server_cpu_share']:.0f}%",
                f"{100 * r['client_cpu_share']:.0f}%",
            ]
        )
    results["healthz_ceiling_rps"] = ceiling
    rep.results = results
    rep.notes.append(
        f"{p['connections']} keep-alive connections, bench/loadgen.py in one "
        f"process (uvloop); each route {p['warmup']} s warm-up + "
        f"{p['duration']} s measured"
    )
    return rep
