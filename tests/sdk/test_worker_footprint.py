"""What a running ``schedo worker`` or ``schedo agent`` process imports (issue 18: worker
RSS ≤ 40 MB; cli/fastpath.py).

A real worker process against the real test server runs one job of an app that records, at
exit, every module the process loaded; a real agent runs one command job and records the
same. None of the server's dependencies, pydantic, typer, rich, click or the other commands
may be among them. ``--help`` and bad options still go through the full Typer command (its
own help and error messages).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import schedo
from schedo.cli.agent import SHUTDOWN_GRACE
from schedo.cli.fastpath import parse_agent, parse_serve, parse_worker
from tests.support.server import ADMIN_KEY, ServerProcess, child_env, free_port, wait_until
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
AGENT_ALLOWED = {"schedo.cli", "schedo.cli.fastpath", "schedo.cli.agent", "schedo.cli.agent_exec",
                 "schedo.cli.plain", "schedo.cli.exit_codes"}  # fmt: skip
# the agent as the ``schedo`` console script runs it, recording its modules at exit
AGENT = (
    "import atexit, sys\n"
    "out = sys.argv[1]\n"
    "atexit.register(lambda: open(out, 'w').write('\\n'.join(sys.modules)))\n"
    "sys.argv = ['schedo', 'agent', *sys.argv[2:]]\n"
    "from schedo.cli import main\n"
    "main()\n"
)


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
    _only_the_sdk(set(out.read_text().split("\n")), CLI_ALLOWED)


def _only_the_sdk(modules: set[str], cli_allowed: set[str]) -> None:
    assert "schedo.sdk.runtime" in modules  # the record is of a worker that ran
    loaded = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)
    assert not loaded, loaded
    # of the server only its pure domain (the cron rules of the SDK's local schedule check)
    server = {m for m in modules if m.startswith("schedo.server.")}
    assert all(m.startswith("schedo.server.domain") for m in server), sorted(server)
    cli = {m for m in modules if m == "schedo.cli" or m.startswith("schedo.cli.")}
    assert cli <= cli_allowed, sorted(cli - cli_allowed)


def test_a_running_agent_loads_only_the_sdk(
    server: ServerProcess, client: schedo.Client, tmp_path: Path
) -> None:
    name = f"fp-{uuid.uuid4().hex[:6]}"
    job = client.define_job(name, "0 0 1 1 *", command="echo footprint")
    out = tmp_path / "modules.txt"
    log = tmp_path / "agent.log"
    with open(log, "wb") as sink:
        agent = subprocess.Popen(
            [sys.executable, "-c", AGENT, str(out), "--jobs", name, "--tag", "a", "--tag=b",
             "--grace", "5"],
            cwd=ROOT, env=child_env(SCHEDO_BASE_URL=server.url, SCHEDO_API_KEY=ADMIN_KEY),
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        run = client.trigger_job(job.id)
        done = wait_status(client, job.id, run.id, {"completed", "failed"}, 30)
        assert done.status == "completed", (done, log.read_text())
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0, log.read_text()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    _only_the_sdk(set(out.read_text().split("\n")), AGENT_ALLOWED)


def _schedo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedo.cli", *args], cwd=ROOT, env=child_env(COLUMNS="200"),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_agent_help_and_bad_options_are_typers() -> None:
    helped = _schedo("agent", "--help")
    assert helped.returncode == 0, helped.stderr
    for option in ("--jobs", "--concurrency", "--grace", "--tag", "--host", "--url", "--key",
                   "--env", "SCHEDO_API_KEY"):  # fmt: skip
        assert option in helped.stdout, option
    bad = _schedo("agent", "--key", "k", "-c", "101")
    assert bad.returncode == 2 and "Invalid value for '--concurrency'" in bad.stderr, bad
    no_key = _schedo("agent", "--jobs", "a")
    assert no_key.returncode == 2
    assert no_key.stderr == "schedo: no API key: pass --key or set SCHEDO_API_KEY\n"
    bad_tag = _schedo("agent", "--key", "k", "--tag", "Not A Tag")
    assert bad_tag.returncode == 2 and bad_tag.stderr.startswith("schedo: --tag: 'not a tag'")


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
     ["m", "-c=3"], ["m", "--key", "-k"], ["-x"], ["m", "-c", "03"]],
)  # fmt: skip
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert parse_worker(args) is None


def test_the_agent_fast_path_reads_options_and_variables_as_typer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("SCHEDO_BASE_URL", "SCHEDO_API_KEY", "SCHEDO_ENVIRONMENT", "SCHEDO_ENVIRONMENT_ID"):
        monkeypatch.delenv(var, raising=False)
    assert parse_agent([]) == {
        "jobs": None, "concurrency": 4, "grace": SHUTDOWN_GRACE, "tag": None, "host": None,
        "url": "http://127.0.0.1:8000", "key": None, "env": None,
    }  # fmt: skip
    monkeypatch.setenv("SCHEDO_BASE_URL", "http://h:1")
    monkeypatch.setenv("SCHEDO_API_KEY", "k")
    monkeypatch.setenv("SCHEDO_ENVIRONMENT", "")  # empty: unset, as for Typer
    monkeypatch.setenv("SCHEDO_ENVIRONMENT_ID", "3")
    got = parse_agent(["--tag", "a", "--tag=b", "-c", "100", "--grace", "0.5", "--jobs", "x,y"])
    assert got == {"jobs": "x,y", "concurrency": 100, "grace": 0.5, "tag": ["a", "b"],
                   "host": None, "url": "http://h:1", "key": "k", "env": 3}  # fmt: skip
    assert parse_agent(["--url", "http://o:2", "--key", "o", "--env", "9"]) == {
        **got, "jobs": None, "concurrency": 4, "grace": SHUTDOWN_GRACE, "tag": None,
        "url": "http://o:2", "key": "o", "env": 9,
    }  # fmt: skip
    for bad in (["-c", "101"], ["-c", "0"], ["--grace", "3601"], ["--grace", "1e3"], ["x"],
                ["--help"], ["--tag"], ["--verbose"]):  # fmt: skip
        assert parse_agent(bad) is None, bad
    monkeypatch.setenv("SCHEDO_ENVIRONMENT_ID", "0")  # Typer's error for a bad variable
    assert parse_agent([]) is None


# -- schedo serve: no Typer for a plain invocation, no other command ---------------------------

SERVE = AGENT.replace("'agent'", "'serve'")


def test_a_serving_server_loads_no_other_command(tmp_path: Path) -> None:
    """A real ``schedo serve`` answering requests holds none of the other commands nor typer
    (cli/serve_run.py), and a bad option is still Typer's error."""
    port = free_port()
    out = tmp_path / "modules.txt"
    log = tmp_path / "serve.log"
    args = ["--port", str(port), "--db", f"sqlite:///{tmp_path / 'fp.db'}"]
    with open(log, "wb") as sink:
        srv = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(out), *args], cwd=ROOT,
            env=child_env(SCHEDO_ADMIN_KEY=ADMIN_KEY, SCHEDO_HOST="127.0.0.1"),
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 30, what="the server to be ready")
        with schedo.Client(ADMIN_KEY, url) as c:
            c.list_jobs()
        srv.send_signal(signal.SIGTERM)
        assert srv.wait(30) == 0, log.read_text()
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    modules = set(out.read_text().split("\n"))
    assert "schedo.server.app" in modules and "fastapi" in modules  # a server that ran
    cli = {m for m in modules if m.startswith("schedo.cli.")}
    allowed = {"schedo.cli.fastpath", "schedo.cli.serve_run"}
    assert cli <= allowed, sorted(cli - allowed)
    assert "typer" not in modules
    bad = _schedo("serve", "--port", "x")
    assert bad.returncode == 2 and "Invalid value for '--port'" in bad.stderr, bad.stderr
    helped = _schedo("serve", "--help")
    assert helped.returncode == 0 and "--allow-private-webhooks" in helped.stdout


def test_the_serve_fast_path_takes_plain_invocations() -> None:
    none = {"host": None, "port": None, "db": None, "allow_private_webhooks": None}
    assert parse_serve([]) == none
    args = ["--port=8001", "--db", "sqlite:///x.db", "--allow-private-webhooks", "--host", "h"]
    assert parse_serve(args) == {
        "host": "h", "port": 8001, "db": "sqlite:///x.db", "allow_private_webhooks": True,
    }
    for typers in (["--port", "x"], ["--port", "0"], ["--port", "08000"], ["--db"],
                   ["--allow-private-webhooks=1"], ["--help"], ["extra"], ["--host", "-h"],
                   ["--verbose"]):  # fmt: skip
        assert parse_serve(typers) is None, typers
