"""footprint: idle server RSS, worker process RSS, and ``schedo serve`` start-to-ready time on
an empty database and on one with many jobs.

start-to-ready = from spawning ``python -m schedo.cli serve`` to the first 200 from
``/readyz`` (polled every 10 ms), median of ``repeats``; three databases: a new file
(migrations and first-start bootstrap run), an existing empty one, and one with ``jobs``
bulk-loaded jobs. Idle server RSS: VmRSS ``idle_wait`` (3 s) after ready, then again after 200
authenticated requests. Worker RSS: a real
``python -m schedo.cli worker bench/apps/one.py:app`` (one no-op job), 1 s after it first polled.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import loader
from .common import (
    ADMIN_KEY,
    ROOT,
    Check,
    Report,
    Server,
    clean_env,
    fresh_db,
    proc_mem_kb,
    stop_process,
    wait_until,
)

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"jobs": 5_000, "repeats": 1, "idle_wait": 1.0, "imports": False},
    "default": {"jobs": 100_000, "repeats": 3, "idle_wait": 3.0, "imports": True},
    "full": {"jobs": 100_000, "repeats": 5, "idle_wait": 3.0, "imports": True},
}


def _rss_mb(pid: int) -> float:
    return proc_mem_kb(pid).get("VmRSS", 0) / 1024


def _start_times(
    db: Path, workdir: Path, repeats: int, fresh: bool, idle_wait: float, worker: bool = False
) -> tuple[list[float], float, float, float]:
    """Start-to-ready seconds of each start; idle RSS, RSS after requests and (``worker``)
    a worker's RSS, measured during the last start."""
    times: list[float] = []
    idle = warm = worker_mb = 0.0
    for i in range(repeats):
        if fresh:
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(str(db) + suffix).unlink(missing_ok=True)
        srv = Server(db, workdir).start()
        try:
            times.append(srv.ready_seconds)
            if i == repeats - 1:
                time.sleep(idle_wait)
                idle = _rss_mb(srv.pid)
                with srv.client() as c:
                    for _ in range(100):
                        c.get("/jobs/1")
                        c.get("/org")
                time.sleep(0.5)
                warm = _rss_mb(srv.pid)
                if worker:
                    worker_mb = _worker_rss(srv, workdir)
        finally:
            srv.stop()
    return times, idle, warm, worker_mb


# RSS after each step, in a fresh interpreter: where the footprint comes from
_IMPORT_STEPS = {
    # as ``schedo serve`` loads it: cli/serve_run.py, then server/serve.py (which leaves out
    # watchfiles and pydantic.v1: ``prepare_imports``); Alembic only in its start-up child
    "server": [
        "fastapi",
        "sqlalchemy.ext.asyncio",
        "schedo.cli.serve_run",
        "schedo.server.serve",
        "<prepare_imports: uvicorn>",
        "schedo.server.app",
    ],
    # as ``schedo worker`` loads it (cli/fastpath.py): httpx's own CLI marked absent first
    "worker": [
        "<no httpx CLI>",
        "httpx",
        "schedo",
        "schedo.cli.worker_run",
        "schedo.sdk.worker",
        "<AsyncClient>",
    ],
}
_IMPORT_PROBE = """
import asyncio, importlib, json, re, sys
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
out = [["python (with asyncio)", rss()]]
for step in sys.argv[1:]:
    if step == "<no httpx CLI>":  # as cli/fastpath.py does before the SDK imports httpx
        sys.modules.setdefault("httpx._main", None)
    elif step == "<prepare_imports: uvicorn>":
        from schedo.server.serve import prepare_imports
        prepare_imports()
    elif step == "<AsyncClient>":  # the SDK's client of an http:// server, as a worker makes it
        from schedo.sdk.async_client import AsyncClient
        async def make():
            c = AsyncClient("sk_probe", "http://127.0.0.1:9")
            await c.aclose()
        asyncio.run(make())
    else:
        importlib.import_module(step)
    out.append([step, rss()])
print(json.dumps(out))
"""


def import_costs() -> dict[str, list[list[Any]]]:
    """RSS (MB) of a fresh interpreter after each import step of the server and the worker."""
    out: dict[str, list[list[Any]]] = {}
    for name, steps in _IMPORT_STEPS.items():
        r = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE, *steps],
            cwd=ROOT,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        out[name] = json.loads(r.stdout) if r.returncode == 0 else [["error", r.stderr[-300:]]]
    return out


def _worker_rss(srv: Server, workdir: Path) -> float:
    proc: subprocess.Popen[bytes] | None = None
    try:
        env = clean_env(SCHEDO_API_KEY=ADMIN_KEY, SCHEDO_BASE_URL=srv.url)
        with open(workdir / "footprint-worker.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "schedo.cli", "worker", "bench/apps/one.py:app"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        conn = loader.connect(srv.db_path)
        wait_until(
            lambda: loader.connected_codes(conn, "bench-one") >= 1, 30, what="worker polling"
        )
        conn.close()
        time.sleep(1)
        return _rss_mb(proc.pid)
    finally:
        stop_process(proc)


def run(size: str, workdir: Path, jobs: int | None = None) -> Report:
    p = dict(SIZES[size])
    if jobs is not None:
        p["jobs"] = jobs
    repeats, n, idle = int(p["repeats"]), int(p["jobs"]), float(p["idle_wait"])
    rep = Report("footprint", size, p)
    db = workdir / "fp.db"
    new_times, idle_new, warm_new, _ = _start_times(db, workdir, repeats, True, idle)
    empty_times, idle_empty, warm_empty, worker = _start_times(
        db, workdir, repeats, False, idle, worker=True
    )
    # the large database: a copy of the empty one (closed, so checkpointed) plus n jobs
    big = fresh_db(workdir / "fp-big.db")
    for suffix in ("", "-wal", "-shm", ".key"):  # .key: the sealing key goes with the file
        if Path(str(db) + suffix).exists():
            shutil.copyfile(str(db) + suffix, str(big) + suffix)
    conn = loader.connect(big)
    never = loader.never_ms()
    loader.insert_jobs(
        conn, loader.env_id(conn), ((f"fp-{i:07d}", loader.NEVER, never) for i in range(n))
    )
    conn.close()
    big_times, idle_big, warm_big, _ = _start_times(big, workdir, repeats, False, idle)
    res: dict[str, Any] = {
        "start_to_ready_s": {"new_db": new_times, "empty_db": empty_times, "big_db": big_times},
        "idle_rss_mb": {"empty_db": idle_empty, "big_db": idle_big, "new_db": idle_new},
        "rss_after_requests_mb": {"empty_db": warm_empty, "big_db": warm_big, "new_db": warm_new},
        "worker_rss_mb": worker,
        "import_rss_mb": import_costs() if p["imports"] else {},
    }
    rep.results = res
    med = {k: statistics.median(v) for k, v in res["start_to_ready_s"].items()}
    rep.headers = ["measure", "new database", "empty database", f"{n:,} jobs"]
    rep.rows = [
        [
            "serve start-to-ready (median)",
            f"{med['new_db']:.2f} s",
            f"{med['empty_db']:.2f} s",
            f"{med['big_db']:.2f} s",
        ],
        [
            f"server RSS, idle {idle:.0f} s after ready",
            f"{idle_new:.0f} MB",
            f"{idle_empty:.0f} MB",
            f"{idle_big:.0f} MB",
        ],
        [
            "server RSS after 200 requests",
            f"{warm_new:.0f} MB",
            f"{warm_empty:.0f} MB",
            f"{warm_big:.0f} MB",
        ],
        ["worker RSS (schedo worker, 1 job)", f"{worker:.0f} MB", "", ""],
    ]
    rep.checks = [
        Check("idle server RSS (empty db)", "≤ 80 MB", f"{idle_empty:.0f} MB", idle_empty <= 80),
        Check("worker RSS", "≤ 40 MB", f"{worker:.0f} MB", worker <= 40),
        Check(
            "start-to-ready, empty db",
            "≤ 1.5 s",
            f"{med['empty_db']:.2f} s",
            med["empty_db"] <= 1.5,
        ),
        Check(
            f"start-to-ready, {n:,} jobs", "≤ 1.5 s", f"{med['big_db']:.2f} s", med["big_db"] <= 1.5
        ),
    ]
    imports: dict[str, list[list[Any]]] = res["import_rss_mb"]
    for name, steps in imports.items():
        rep.notes.append(
            f"{name} RSS after imports (MB): "
            + ", ".join(
                f"{step} {mb:.0f}" if isinstance(mb, float) else f"{step} {mb}"
                for step, mb in steps
            )
        )
    return rep
