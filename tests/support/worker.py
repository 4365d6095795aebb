"""``schedo worker`` as a real process (``python -m schedo.cli worker``), for every test that
needs real signals, a real exit status or a server that goes away (sdk and e2e tiers)."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import schedo
from schedo import Execution
from tests.support.server import ADMIN_KEY, child_env, wait_until

ROOT = Path(__file__).resolve().parents[2]
APPS = "tests/e2e/apps"
WORKER = [sys.executable, "-m", "schedo.cli", "worker"]
TERMINAL = {"completed", "failed", "expired", "skipped"}


class WorkerProcess:
    """One ``schedo worker`` process; stdout and stderr go to one log file."""

    def __init__(
        self,
        args: Sequence[str],
        workdir: Path,
        *,
        url: str | None = None,
        key: str | None = ADMIN_KEY,
        **env: str,
    ) -> None:
        self.log_path = workdir / f"worker-{uuid.uuid4().hex[:8]}.log"
        extra = dict(env)
        if url is not None:
            extra["SCHEDO_BASE_URL"] = url
        if key is not None:
            extra["SCHEDO_API_KEY"] = key
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*WORKER, *args],
                cwd=ROOT,
                env=child_env(**extra),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"worker did not exit within {timeout}s:\n{self.log()}"
            ) from None

    def stop(self, sig: int | None = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` (None: only wait) and return the exit status."""
        if sig is not None:
            self.send(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def job_ids(
    c: schedo.Client, *names: str, worker: WorkerProcess | None = None, timeout: float = 20
) -> dict[str, int]:
    """Wait until ``names`` are defined; their ids."""

    def defined() -> dict[str, int] | None:
        if worker is not None and not worker.alive():
            raise AssertionError(f"worker exited early:\n{worker.log()}")
        jobs = {j.name: j.id for j in c.list_jobs()}
        return {n: jobs[n] for n in names} if all(n in jobs for n in names) else None

    found: dict[str, int] = wait_until(defined, timeout, what=f"definitions of {names}")
    return found


def wait_status(
    c: schedo.Client,
    job_id: int,
    exec_id: int,
    statuses: set[str],
    timeout: float,
    worker: WorkerProcess | None = None,
) -> Execution:
    """Wait until execution ``exec_id`` is in one of ``statuses``."""

    def reached() -> Execution | None:
        for e in c.list_executions(job_id, limit=200):
            if e.id == exec_id and e.status in statuses:
                return e
        return None

    try:
        found: Execution = wait_until(
            reached, timeout, interval=0.1, what=f"execution {exec_id} in {statuses}"
        )
    except AssertionError:
        if worker is not None:
            print(worker.log())
        raise
    return found
