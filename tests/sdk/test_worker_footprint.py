"""What a running ``schedo worker`` process imports (issue 18: worker RSS ≤ 40 MB).

A real worker process against the real test server runs one job of an app that records, at
exit, every module the process loaded; none of the server's dependencies, pydantic, typer,
rich, click or the other commands may be among them. ``--help`` and bad options still go
through the full Typer command (its own help and error messages).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import schedo
from schedo.cli.fastpath import parse_worker
from tests.support.server import ADMIN_KEY, ServerProcess, child_env
from tests.support.worker import ROOT, WorkerProcess, job_ids, wait_status

APP = '''
import atexit, os, sys
from schedo import JobContext, Schedo

atexit.register(lambda: open(os.environ["FOOTPRINT_OUT"], "w").write("\\n".join(sys.modules)))
app = Schedo()


@app.job(os.environ["FOOTPRINT_JOB"], "0 0 1 1 *")
async def one(ctx: JobContext) -> str:
    return "ok"
'''
# top-level packages a worker must not load
FORBIDDEN = {"fastapi", "starlette", "sqlalchemy", "uvicorn", "alembic", "pydantic",
             "pydantic_core", "typer", "rich", "click", "pygments"}  # fmt: skip
# the only command-line modules on the worker's path
CLI_ALLOWED = {"schedo.cli", "schedo.cli.__main__", "schedo.cli.fastpath",
               "schedo.cli.worker_run", "schedo.cli.exit_codes"}  # fmt: skip


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()


def test_a_running_worker_loads_only_the_sdk(
    server: ServerProcess, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    name = f"fp-{uuid.uuid4().hex[:6]}"
    app = tmp_path / "footprint_app.py"
    app.write_text(APP)
    out = tmp_path / "modules.txt"
    w = WorkerProcess([f"{app}:app", "-c", "2", "--url", server.url], tmp_path,
                      FOOTPRINT_OUT=str(out), FOOTPRINT_JOB=name)  # fmt: skip
    workers.append(w)
    with schedo.Client(ADMIN_KEY, server.url) as c:
        jid = job_ids(c, name, worker=w)[name]
        run = c.trigger_job(jid)
        done = wait_status(c, jid, run.id, {"completed", "failed"}, 20)
    assert done.status == "completed", (done, w.log())
    w.send(signal.SIGTERM)
    assert w.wait() == 0, w.log()
    modules = set(out.read_text().split("\n"))
    assert "schedo.sdk.runtime" in modules  # the record is of a worker that ran
    loaded = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)
    assert not loaded, loaded
    # of the server only its pure domain (the cron rules of the SDK's local schedule check)
    server = {m for m in modules if m.startswith("schedo.server.")}
    assert all(m.startswith("schedo.server.domain") for m in server), sorted(server)
    cli = {m for m in modules if m == "schedo.cli" or m.startswith("schedo.cli.")}
    assert cli <= CLI_ALLOWED, sorted(cli - CLI_ALLOWED)


def _schedo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedo.cli", *args], cwd=ROOT, env=child_env(COLUMNS="200"),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_worker_help_and_bad_options_are_typers() -> None:
    helped = _schedo("worker", "--help")
    assert helped.returncode == 0, helped.stderr
    for option in ("target", "--concurrency", "-c", "--url", "--key", "--env"):
        assert option in helped.stdout, option
    bad = _schedo("worker", "x.py:app", "--env", "0")
    assert bad.returncode == 2
    assert "Invalid value for '--env'" in bad.stderr and "greater than or equal to 1" in bad.stderr
    extra = _schedo("worker", "a.py:app", "b.py:app")
    assert extra.returncode == 2 and "unexpected extra argument" in extra.stderr


def test_schedo_help_still_lists_every_command() -> None:
    helped = _schedo("--help")
    assert helped.returncode == 0, helped.stderr
    for command in ("serve", "worker", "agent", "jobs", "cron", "backup", "import-crontab"):
        assert command in helped.stdout, command


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["m:app"], {"target": "m:app", "concurrency": None, "url": None, "key": None,
                     "env": None}),
        (["--url=http://h:1", "m", "-c", "3", "--key", "k", "--env", "7", "--env=8"],
         {"target": "m", "concurrency": 3, "url": "http://h:1", "key": "k", "env": 8}),
    ],
)  # fmt: skip
def test_the_fast_path_takes_plain_invocations(args: list[str], want: dict[str, object]) -> None:
    assert parse_worker(args) == want


@pytest.mark.parametrize(
    "args",
    [[], ["--help"], ["m", "-h"], ["m", "--env", "0"], ["m", "-c", "x"], ["m", "-c", "+3"],
     ["m", "-c", "٣"], ["m", "--url"], ["m", "n"], ["m", "--"], ["m", "--verbose"],
     ["m", "-c=3"], ["m", "--key", "-k"], ["-x"]],
)  # fmt: skip
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert parse_worker(args) is None
