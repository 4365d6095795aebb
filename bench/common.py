"""Shared pieces of the benchmarks: a real ``schedo serve`` process, /proc sampling, percentiles,
the printed table and the JSON report.

Everything here talks only to loopback addresses, and every wait has a deadline.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
ADMIN_KEY = "sk_bench_admin_key_0123456789abcdef"
HOST = "127.0.0.1"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A scenario could not produce a valid measurement (setup failed, work was lost)."""


# -- small helpers ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_until(
    cond: Callable[[], T | None], timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``cond`` until it returns a truthy value; raise BenchError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def summary(
    values: Sequence[float], expected: int | None = None, censor_at: float | None = None
) -> dict[str, Any]:
    """p50/p99/max/mean of ``values`` (seconds). When fewer than ``expected`` values exist,
    the missing ones are counted as ``censor_at`` (they had not happened by then): a
    percentile that lands on them is a lower bound, flagged ``*_censored``."""
    vals = list(values)
    missing = 0 if expected is None else max(0, expected - len(vals))
    filled = vals + [math.inf] * missing
    out: dict[str, Any] = {"n": len(vals), "missing": missing}
    for name, q in (("p50", 50.0), ("p99", 99.0)):
        v = percentile(filled, q)
        out[f"{name}_censored"] = math.isinf(v)
        out[name] = censor_at if math.isinf(v) else v
    out["max"] = censor_at if missing else (max(vals) if vals else math.nan)
    out["max_censored"] = bool(missing)
    out["mean"] = sum(vals) / len(vals) if vals else math.nan
    return out


def fmt_s(v: float | None, censored: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    prefix = ">" if censored else ""
    if abs(v) < 1:
        return f"{prefix}{v * 1000:.1f} ms"
    return f"{prefix}{v:.2f} s"


def fmt_ratio(v: float | None, lower_bound: bool = False) -> str:
    if v is None or math.isnan(v) or math.isinf(v):
        return "-"
    digits = 1 if abs(v) >= 1 else 2 if abs(v) >= 0.1 else 3
    return f"{'≥' if lower_bound else ''}{v:.{digits}f}x"


# -- /proc -----------------------------------------------------------------------------------
def proc_mem_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of ``pid`` in kB; {} if it is gone."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, val = line.split(":", 1)
                    out[key] = int(val.split()[0])
    except OSError:
        pass
    return out


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds used by ``pid`` so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


class Sampler:
    """Samples RSS of one process in a thread (bounded by ``max_seconds``)."""

    def __init__(self, pid: int, interval: float = 0.25, max_seconds: float = 3600) -> None:
        self.pid = pid
        self.interval = interval
        self.max_seconds = max_seconds
        self.peak_rss_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < end:
            rss = proc_mem_kb(self.pid).get("VmRSS", 0)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# -- the server ------------------------------------------------------------------------------
SERVER_ENV_PREFIX = "BENCH_SERVER_"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without its ``SCHEDO_*`` settings; ``BENCH_SERVER_SCHEDO_X=v`` gives
    the benchmarked processes ``SCHEDO_X=v`` (an A/B of one setting in one session, e.g.
    ``BENCH_SERVER_SCHEDO_EXPRESS_LANE=0``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDO_")}
    env.update({k[len(SERVER_ENV_PREFIX):]: v for k, v in os.environ.items()
                if k.startswith(SERVER_ENV_PREFIX + "SCHEDO_")})
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    env.update(extra)
    return env


class Server:
    """A real ``schedo serve`` process on a free loopback port with a SQLite file (or, given
    ``database_url``, that database: PostgreSQL, bench/pgload.py)."""

    def __init__(
        self,
        db_path: Path,
        workdir: Path,
        extra_env: dict[str, str] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.db_path = db_path
        self.database_url = database_url or f"sqlite:///{db_path}"
        self.workdir = workdir
        self.port = free_port()
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"server-{self.port}.log"
        self.ready_seconds = math.nan

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": ADMIN_KEY}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> Server:
        # the per-key rate limit (docs/hardening.md) is off: the bench measures the server
        env = clean_env(
            SCHEDO_ADMIN_KEY=ADMIN_KEY,
            **{"SCHEDO_RATE_LIMIT_PER_SECOND": "0", **self.extra_env},
        )
        with open(self.log_path, "ab") as log:
            t0 = time.perf_counter()
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "schedo.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--db",
                    self.database_url,
                ],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        with httpx.Client(timeout=1) as c:

            def ready() -> bool:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise BenchError(f"server exited {self.proc.returncode}: {self.log()[-2000:]}")
                try:
                    return c.get(self.url + "/readyz").status_code == 200
                except httpx.HTTPError:
                    return False

            try:
                wait_until(ready, timeout, interval=0.01, what=f"server on {self.url}")
            except BaseException:
                self.stop()
                raise
        self.ready_seconds = time.perf_counter() - t0
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def stop(self, timeout: float = 20) -> None:
        stop_process(self.proc, timeout)


def fresh_db(path: Path) -> Path:
    """``path`` with any previous SQLite database there (and its WAL files) removed."""
    for suffix in ("", "-wal", "-shm", ".lock", ".key"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float = 20) -> None:
    """SIGTERM ``proc`` (one we started), SIGKILL it after ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class Profiler:
    """``py-spy record`` of one process while a block runs, when ``BENCH_PROFILE_DIR`` is set
    (collapsed stacks, one file per use: read them with any flame-graph tool or grep)."""

    def __init__(self, pid: int, name: str, seconds: float) -> None:
        self.pid = pid
        self.out_dir = os.environ.get("BENCH_PROFILE_DIR")
        self.name = name
        self.seconds = seconds
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        # on PATH, or beside this interpreter (a venv's bin, not on PATH when not activated)
        beside = str(Path(sys.executable).parent)
        spy = shutil.which("py-spy") or shutil.which("py-spy", path=beside)
        if self.out_dir and not spy:
            print("BENCH_PROFILE_DIR is set but py-spy was not found: no profile recorded",
                  file=sys.stderr)
        if self.out_dir and spy:
            Path(self.out_dir).mkdir(parents=True, exist_ok=True)
            out = Path(self.out_dir) / f"{self.name}-{time.strftime('%H%M%S')}.txt"
            self.proc = subprocess.Popen(
                [
                    spy,
                    "record",
                    "-p",
                    str(self.pid),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    str(out),
                    "-d",
                    str(max(1, math.ceil(self.seconds))),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def poke_ticker(srv: Server) -> None:
    """Wake the server's ticker after rows were written behind its back: (re)defining a job
    with a changed schedule notifies it, and it re-reads the earliest next_run_at."""
    with srv.client() as c:
        for expr in ("0 0 1 1 *", "0 0 2 1 *"):
            r = c.post("/jobs/definition", json={"name": "bench-poke", "schedule": expr})
            if r.status_code != 200:
                raise BenchError(f"poke refused: {r.status_code} {r.text}")


# -- machine and reports ---------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in _read("/proc/cpuinfo").splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        (
            int(ln.split()[1]) // 1024
            for ln in _read("/proc/meminfo").splitlines()
            if ln.startswith("MemTotal")
        ),
        0,
    )
    commit = ""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    versions: dict[str, str] = {}
    from importlib import metadata

    for pkg in (
        "schedo",
        "fastapi",
        "uvicorn",
        "sqlalchemy",
        "aiosqlite",
        "httpx",
        "apscheduler",
        "celery",
        "redis",
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()),
        "commit": commit,
        "versions": versions,
    }


@dataclass
class Check:
    """One target of the issue, with the measured value and whether it was met."""

    name: str
    target: str
    value: str
    met: bool | None  # None: not measured in this run


@dataclass
class Report:
    scenario: str
    size: str
    params: dict[str, Any]
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )
    seconds: float = 0.0
    command: str = field(default_factory=lambda: _command())
    # the database the server ran on, when a scenario can use more than one (api): "kind"
    # (sqlite or postgresql), "version", "label"; in the JSON and the printed header
    database: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "size": self.size,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 1),
            "command": self.command,
            "machine": machine(),
            "params": self.params,
            "table": {"headers": self.headers, "rows": self.rows},
            "checks": [c.__dict__ for c in self.checks],
            "results": _clean(self.results),
            "notes": self.notes,
            **({"database": self.database} if self.database else {}),
        }

    def render(self) -> str:
        on = f"; database: {self.database['label']}" if self.database.get("label") else ""
        out = [f"== {self.scenario} ({self.size}, {self.seconds:.1f} s{on}) =="]
        out.append(table(self.headers, self.rows))
        if self.checks:
            out.append("")
            out.append(
                table(
                    ["target", "wanted", "measured", "met"],
                    [
                        [c.name, c.target, c.value, {True: "yes", False: "NO", None: "-"}[c.met]]
                        for c in self.checks
                    ],
                )
            )
        for n in self.notes:
            out.append(f"note: {n}")
        return "\n".join(out)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _command() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(os.path.join("bench", "__main__.py")):
        argv[0:1] = ["-m", "bench"]
    return " ".join(["python", *argv])


def _clean(v: Any) -> Any:
    """JSON-safe: nan/inf become None."""
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else round(v, 6)
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(map(str, r)) for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, sep, *body])
