"""Fixtures of the command-line tests: a real ``schedo serve`` process, a ``CliRunner`` on
an app of our own (``register_all`` on a fresh Typer app), and real subprocesses for the
commands that must run as processes (``agent``, ``runs --follow``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

import schedo
from schedo import Execution
from schedo.cli.commands import register_all
from tests.support.server import ADMIN_KEY, ServerProcess, child_env, wait_until

ROOT = Path(__file__).resolve().parents[2]
# A ``schedo`` command line of our own, independent of the registration in cli/app.py.
CLI = [
    sys.executable,
    "-c",
    "import typer\n"
    "from schedo.cli.commands import register_all\n"
    "app = typer.Typer()\n"
    "register_all(app)\n"
    "app()\n",
]


def make_app() -> typer.Typer:
    app = typer.Typer()
    register_all(app)
    return app


@pytest.fixture(autouse=True)
def _no_schedo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Options come from the command line only, never from the developer's environment."""
    for name in list(os.environ):
        if name.startswith("SCHEDO_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("cli-server")
    srv = ServerProcess(f"sqlite:///{workdir / 'schedo.db'}", workdir).start()
    try:
        yield srv
    finally:
        # killed, not stopped: a graceful stop would wait for long polls that stopped
        # agents abandoned
        srv.kill()
        assert "unhandled error" not in srv.log(), srv.log()  # no 500 answered


@pytest.fixture
def client(server: ServerProcess) -> Iterator[schedo.Client]:
    with schedo.Client(ADMIN_KEY, server.url) as c:
        yield c


@pytest.fixture
def name() -> str:
    """A job name no other test uses (the server is shared)."""
    return f"cli-{uuid.uuid4().hex[:10]}"


@dataclass
class Cli:
    """Runs our commands in-process against ``server`` (``--url``/``--key`` added)."""

    server: ServerProcess
    runner: CliRunner
    app: typer.Typer

    def __call__(
        self,
        *args: str,
        key: str | None = ADMIN_KEY,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        argv = [*args, "--url", self.server.url]
        if key is not None:
            argv += ["--key", key]
        return self.runner.invoke(self.app, argv, input=input, env=env)

    def raw(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        """Exactly these arguments, nothing added."""
        return self.runner.invoke(self.app, list(args), input=input, env=env)


@pytest.fixture
def cli(server: ServerProcess) -> Cli:
    return Cli(server, CliRunner(), make_app())


class Process:
    """One ``schedo`` subcommand as a real process; stdout and stderr go to files."""

    def __init__(self, args: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
        tag = uuid.uuid4().hex[:8]
        self.out_path = workdir / f"{args[0]}-{tag}.out"
        self.err_path = workdir / f"{args[0]}-{tag}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [*CLI, *args],
                cwd=ROOT,
                env=env or child_env(),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stdout(self) -> str:
        return self.out_path.read_text()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 45) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(
                f"process did not exit within {timeout}s:\n{self.stderr()}"
            ) from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Processes started by a test; any still running at the end is killed."""
    started: list[Process] = []
    yield started
    for p in started:
        p.kill()


def start(processes: list[Process], args: list[str], workdir: Path, **env: str) -> Process:
    p = Process(args, workdir, child_env(**env))
    processes.append(p)
    return p


TERMINAL = {"completed", "failed", "expired", "skipped"}


def agent(
    processes: list[Process], server_url: str, jobs: str, tmp_path: Path, *extra: str
) -> Process:
    return start(
        processes,
        ["agent", "--jobs", jobs, "--url", server_url, "--key", ADMIN_KEY, *extra],
        tmp_path,
    )


def wait_run(
    c: schedo.Client,
    job_id: int,
    run_id: int,
    statuses: set[str],
    timeout: float,
    proc: Process | None = None,
) -> Execution:
    def reached() -> Execution | None:
        if proc is not None and not proc.alive():
            raise AssertionError(f"agent exited {proc.proc.returncode}:\n{proc.stderr()}")
        for e in c.list_executions(job_id, limit=200):
            if e.id == run_id and e.status in statuses:
                return e
        return None

    try:
        found: Execution = wait_until(
            reached, timeout, interval=0.1, what=f"run {run_id} in {statuses}"
        )
    except AssertionError:
        if proc is not None:
            print(proc.stderr())
        raise
    return found
