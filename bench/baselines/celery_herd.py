"""Celery beat + a Celery worker (prefork, 4 processes) on Redis: N tasks due in the same second.

Redis: ``BENCH_REDIS_URL`` if set; otherwise a private ``redis-server`` on a free loopback
port when the binary exists (no persistence, stopped afterwards); otherwise
redis://127.0.0.1:6379/0. Queue and keys carry a per-run suffix.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..common import ROOT, BenchError, clean_env, free_port, wait_until


@contextmanager
def redis_url(workdir: Path) -> Iterator[str]:
    """A Redis URL to use for one run (see the module docstring)."""
    url = os.environ.get("BENCH_REDIS_URL")
    binary = shutil.which("redis-server")
    if url or binary is None:
        yield url or "redis://127.0.0.1:6379/0"
        return
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--logfile",
            str(workdir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        import redis

        r = redis.Redis(host="127.0.0.1", port=port)

        def up() -> bool:
            try:
                return bool(r.ping())
            except redis.RedisError:
                return False

        wait_until(up, 10, what="redis-server")
        r.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _stop_group(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM the process group of ``proc`` (started by us in its own session)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def run_herd(n: int, workdir: Path, timeout: float, concurrency: int = 4) -> dict[str, Any]:
    import redis

    tag = f"{os.getpid()}-{int(time.time() * 1000)}"
    with redis_url(workdir) as url:
        r = redis.Redis.from_url(url)
        key = f"bench:herd:{tag}"
        env = clean_env(
            BENCH_CELERY_BROKER=url, BENCH_CELERY_QUEUE=f"bench-herd-{tag}", BENCH_CELERY_KEY=key
        )
        celery = [sys.executable, "-m", "celery", "-A", "bench.baselines.celery_app"]
        wlog = workdir / "celery-worker.log"
        blog = workdir / "celery-beat.log"
        with open(wlog, "ab") as log:
            worker = subprocess.Popen(
                [
                    *celery,
                    "worker",
                    "-P",
                    "prefork",
                    "-c",
                    str(concurrency),
                    "-l",
                    "info",
                    "-n",
                    f"bench-{tag}@localhost",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        beat: subprocess.Popen[bytes] | None = None
        try:
            wait_until(
                lambda: " ready." in wlog.read_text(errors="replace"),
                60,
                interval=0.1,
                what=f"celery worker ready (log {wlog})",
            )
            due = math.ceil(time.time() + 2 + n * 0.0005)
            env.update(BENCH_CELERY_N=str(n), BENCH_CELERY_DUE=str(float(due)))
            with open(blog, "ab") as log:
                beat = subprocess.Popen(
                    [
                        *celery,
                        "beat",
                        "-l",
                        "info",
                        "-s",
                        str(workdir / f"beat-{tag}"),
                        "--pidfile",
                        str(workdir / f"beat-{tag}.pid"),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            deadline = due + timeout
            while time.time() < deadline and int(r.llen(key)) < n:
                if worker.poll() is not None or beat.poll() is not None:
                    raise BenchError(f"celery exited; see {wlog} and {blog}")
                time.sleep(0.1)
            ready = r.get(key + ":beat-ready")
            raw = r.lrange(key, 0, -1)
            results = [
                tuple(float(x) for x in (v.decode() if isinstance(v, bytes) else v).split(","))
                for v in raw
            ]
            return {
                "due": due,
                "finished": len(results) >= n,
                "results": results,
                "beat_ready_after_due": None if ready is None else float(ready) - due,
                "setup_overran": ready is None or float(ready) > due - 0.2,
            }
        finally:
            if beat is not None:
                _stop_group(beat)
            _stop_group(worker)
            r.delete(key, key + ":beat-ready", f"bench-herd-{tag}")
            r.close()
