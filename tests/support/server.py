"""A real ``schedo serve`` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.secret_watch import WATCH

ADMIN_KEY = "sk_e2e_admin_key_0123456789abcdef"
# The sealing key of test servers on PostgreSQL (which has no default key file); SQLite
# servers use their default <database>.key file, as a user's would.
SECRET_KEY = "c2NoZWRvLXRlc3Qtc2VhbGluZy1rZXktMzItYnl0ZXM="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(cond, timeout: float, interval: float = 0.05, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``cond`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a process a test starts (worker, agent, CLI): ours without any
    SCHEDO_* setting, unbuffered, logging at DEBUG (its log is scanned for secrets at the end,
    tests/support/secret_watch.py), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDO_")}
    env.update({"PYTHONUNBUFFERED": "1", "SCHEDO_LOG_LEVEL": "DEBUG", **extra})
    return env


class ServerProcess:
    def __init__(self, db_url: str, workdir: Path, port: int | None = None,
                 admin_key: str | None = ADMIN_KEY, extra_env: dict[str, str] | None = None,
                 args: list[str] | None = None,
                 fd_limit: int | tuple[int, int] | None = None) -> None:
        self.db_url = db_url
        self.workdir = workdir
        self.port = port or free_port()
        self.admin_key = admin_key
        self.extra_env = extra_env or {}
        self.args = args or []
        # RLIMIT_NOFILE of the server process: one number for soft and hard, or (soft, hard)
        self.fd_limit = fd_limit
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = workdir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.admin_key or ""}

    def start(self, wait: bool = True) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDO_")}
        if self.db_url.startswith("postgres"):
            env["SCHEDO_SECRET_KEY"] = SECRET_KEY
        env["SCHEDO_LOG_LEVEL"] = "DEBUG"  # scanned for secrets at the end (secret_watch.py)
        WATCH.files.append(self.log_path)
        env.update(self.extra_env)
        if self.admin_key is not None:
            env["SCHEDO_ADMIN_KEY"] = self.admin_key
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "schedo.cli", "serve", "--port", str(self.port),
             "--db", self.db_url, *self.args],
            cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
            preexec_fn=self._limits if self.fd_limit else None,
        )
        if wait:
            wait_until(self.ready, 30, what=f"server on {self.url} (log {self.log_path})")
        return self

    def _limits(self) -> None:
        import resource

        assert self.fd_limit is not None
        limits = self.fd_limit if isinstance(self.fd_limit, tuple) else (self.fd_limit,) * 2
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"server exited {self.proc.returncode}: {self.log()}")
        try:
            return httpx.get(self.url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=10)
