"""Start and stop benchmark worker processes (bench/sdk_worker.py) for a set of job codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from . import loader
from .common import ADMIN_KEY, ROOT, BenchError, Server, clean_env, stop_process, wait_until


def max_codes_per_pull() -> int:
    """The server's cap on job codes in one pull (``services.pull.MAX_CODES``)."""
    try:
        from schedo.server.services.pull import MAX_CODES
    except ImportError:
        return 500
    return int(MAX_CODES)


def spawn(
    srv: Server,
    codes: list[str],
    processes: int,
    workdir: Path,
    tag: str,
    per_app: int | None = None,
    concurrency: int = 100,
    max_seconds: float = 1800,
) -> list[subprocess.Popen[bytes]]:
    """``processes`` worker processes sharing ``codes`` (contiguous slices). Each process runs
    one SDK app (one pull loop) unless its codes exceed what one pull may name (``per_app``,
    default the server's cap). ``concurrency`` 100 = the server's cap on runs per pull."""
    per_app = per_app or max_codes_per_pull()
    env = clean_env(SCHEDO_API_KEY=ADMIN_KEY, SCHEDO_BASE_URL=srv.url)
    procs: list[subprocess.Popen[bytes]] = []
    size = -(-len(codes) // processes)
    for i in range(processes):
        part = codes[i * size : (i + 1) * size]
        if not part:
            continue
        codes_file = workdir / f"{tag}-codes-{i}.txt"
        codes_file.write_text("\n".join(part) + "\n")
        with open(workdir / f"{tag}-worker-{i}.log", "ab") as log:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.sdk_worker",
                        "--codes-file",
                        str(codes_file),
                        "--per-app",
                        str(per_app),
                        "--concurrency",
                        str(concurrency),
                        "--max-seconds",
                        str(max_seconds),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return procs


def wait_connected(
    srv: Server, procs: list[subprocess.Popen[bytes]], prefix: str, count: int, timeout: float = 120
) -> None:
    """Until every one of ``count`` codes with ``prefix`` has a polling worker."""
    conn = loader.connect(srv.db_path)
    try:

        def ok() -> bool:
            for p in procs:
                if p.poll() is not None:
                    raise BenchError(f"a worker exited with status {p.returncode}")
            return loader.connected_codes(conn, prefix) >= count

        wait_until(ok, timeout, interval=0.1, what=f"{count} job codes served by workers")
    finally:
        conn.close()


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        stop_process(p, 40)
