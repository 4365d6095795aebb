#!/usr/bin/env python3
"""Run README.md's install and first-use commands for real, in fresh virtual environments.

Issue 16: "the README's first command must work on a fresh machine". The commands run here are
extracted from README.md's fenced code blocks (by section heading and position), so the README
and this check cannot drift apart; ``tests/install/test_readme_blocks.py`` checks the extraction
itself in pytest.

1. server: ``python3 -m venv A`` and the README's first line, ``python3 -m pip install -e
   '.[server]' && schedo serve`` (python3 -> A's python, ``--port`` a free loopback port, an
   empty temporary folder, ``SCHEDO_ADMIN_KEY`` set), wait for ``/readyz``, then the first curl
   command of "Try it with curl" (the define; ``KEY`` exported, 8000 -> the port): a 200 JSON
   job named like the README's.
2. SDK: ``python3 -m venv B`` and ``pip install .`` (a built wheel, not editable; the
   README: "``pip install .`` (without extras) installs only the SDK"): no server package is
   installed or loaded by ``import schedo``. Then the README's ``# myapp.py`` block and its
   ``schedo worker myapp.py:app`` line, run from B against the server of step 1; the job is
   triggered and its run must end ``completed`` with the example's output; SIGTERM stops the
   worker with exit code 0.

Usage: ``python3 tests/install/readme_check.py [--keep]`` (``--keep`` leaves the temporary
folder with the venvs and logs). Exits non-zero with a message on the first failure. pip uses
the machine's configured indexes and its cache. Run by ``.ci/run``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

ADMIN_KEY = "readme-check-admin-key-0123456789"
INSTALL_TIMEOUT = 600.0  # one pip install (a cold cache downloads and builds)
START_TIMEOUT = 60.0  # schedo serve until /readyz answers 200
COMMAND_TIMEOUT = 60.0  # a curl command, an import check
RUN_TIMEOUT = 60.0  # trigger until the run is completed
STOP_TIMEOUT = 30.0  # SIGTERM until exit

# what the server extra brings and the SDK must neither install nor load (SPEC 6)
SERVER_PACKAGES = (
    "fastapi",
    "sqlalchemy",
    "uvicorn",
    "starlette",
    "pydantic_settings",
    "alembic",
    "aiosqlite",
    "asyncpg",
    "structlog",
    "cryptography",
    "jinja2",
)


class CheckFailed(Exception):
    """A README command did not do what the README says."""


# --- extraction: README.md -> the commands to run ------------------------------------------


@dataclass(frozen=True)
class Block:
    section: str  # the "## " heading it sits under ("" before the first one)
    lang: str
    text: str


def blocks(readme: str | None = None) -> list[Block]:
    """Every fenced code block of the README, in order, with the heading it sits under."""
    text = README.read_text(encoding="utf-8") if readme is None else readme
    found: list[Block] = []
    section = ""
    fence: str | None = None
    lang = ""
    body: list[str] = []
    for line in text.splitlines():
        if fence is None:
            if line.startswith("## "):
                section = line[3:].strip()
            m = re.match(r"^(```+|~~~+)\s*([\w+-]*)", line)
            if m:
                fence, lang, body = m.group(1), m.group(2), []
        elif line.startswith(fence):
            found.append(Block(section, lang, "\n".join(body) + "\n"))
            fence = None
        else:
            body.append(line)
    if fence is not None:
        raise CheckFailed("README.md: a code block is not closed")
    return found


def section_blocks(section: str, readme: str | None = None) -> list[Block]:
    found = [b for b in blocks(readme) if b.section == section]
    if not found:
        raise CheckFailed(f"README.md: no code block under the heading '## {section}'")
    return found


def commands(block: Block) -> list[str]:
    """The shell commands of a block: backslash continuations joined, blank lines dropped."""
    out: list[str] = []
    pending = ""
    for line in block.text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].rstrip() + " "
            continue
        line = (pending + line.strip()).strip()
        pending = ""
        if line:
            out.append(line)
    if pending.strip():
        out.append(pending.strip())
    return out


def _one_line(block: Block, what: str) -> str:
    lines = commands(block)
    if len(lines) != 1:
        raise CheckFailed(f"README.md: expected {what} as a one-line block, got {lines!r}")
    return lines[0]


def server_install_line(readme: str | None = None) -> str:
    """The README's first command (first block, under "Run the server")."""
    first = blocks(readme)[0]
    if first.section != "Run the server":
        raise CheckFailed(
            f"README.md: the first code block is under '## {first.section}', "
            "expected '## Run the server'"
        )
    line = _one_line(first, "the server install line")
    if not re.match(VENV + r"python3 -m pip install -e '\.\[server\]' && schedo serve$", line):
        raise CheckFailed(
            f"README.md: the first command is not \"{VENV_TEXT}python3 -m pip install -e "
            f"'.[server]' && schedo serve\" (update tests/install/readme_check.py): {line!r}"
        )
    return line


# the README's commands start by making and entering a virtual environment (Debian's and
# Ubuntu's python3 refuse a plain pip install: PEP 668); this script makes its own venvs
VENV_TEXT = "python3 -m venv .venv && . .venv/bin/activate && "
VENV = "^" + re.escape(VENV_TEXT)


def without_venv(line: str) -> list[str]:
    """The parts of a README command after its venv set-up."""
    if not line.startswith(VENV_TEXT):
        raise CheckFailed(f"README.md: {line!r} does not start with {VENV_TEXT!r}")
    return [part.strip() for part in line[len(VENV_TEXT):].split("&&")]


def tests_line(readme: str | None = None) -> str:
    """The "Run the tests" command (``.ci/run`` runs it)."""
    line = _one_line(section_blocks("Run the tests", readme)[0], "the test command")
    if "pip install" not in line or "pytest" not in line:
        raise CheckFailed(f"README.md: unexpected test command {line!r}")
    return line


def curl_define(readme: str | None = None) -> str:
    """The first curl command of "Try it with curl": the job definition."""
    lines = commands(section_blocks("Try it with curl", readme)[0])
    curls = [c for c in lines if c.startswith("curl ")]
    if not curls or "/jobs/definition" not in curls[0]:
        raise CheckFailed(f"README.md: the first curl command does not define a job: {curls[:1]!r}")
    if not any(c.startswith("export KEY=") for c in lines):
        raise CheckFailed("README.md: 'Try it with curl' no longer exports KEY")
    return curls[0]


def defined_name(curl: str) -> str:
    """The job name in the curl command's JSON body."""
    args = shlex.split(curl)
    try:
        body = args[args.index("-d") + 1]
    except (ValueError, IndexError):
        raise CheckFailed(f"README.md: no -d body in {curl!r}") from None
    return str(json.loads(body)["name"])


def myapp_source(readme: str | None = None) -> str:
    """The Python block that starts with ``# myapp.py``."""
    found = [
        b
        for b in section_blocks("Run jobs from Python", readme)
        if b.lang == "python" and b.text.startswith("# myapp.py")
    ]
    if len(found) != 1:
        raise CheckFailed("README.md: no single python block starting '# myapp.py'")
    return found[0].text


def worker_lines(readme: str | None = None) -> tuple[str, str]:
    """The ``export SCHEDO_API_KEY=...`` line and the ``schedo worker`` line."""
    for block in section_blocks("Run jobs from Python", readme):
        if block.lang != "sh":
            continue
        lines = commands(block)
        exports = [c for c in lines if c.startswith("export SCHEDO_API_KEY=")]
        workers = [c for c in lines if c.startswith("schedo worker ")]
        if exports and workers:
            return exports[0], workers[0]
    raise CheckFailed(
        "README.md: no sh block under 'Run jobs from Python' with 'export SCHEDO_API_KEY=' "
        "and 'schedo worker'"
    )


def job_name(source: str) -> str:
    m = re.search(r"@app\.job\(\s*\"([^\"]+)\"", source)
    if not m:
        raise CheckFailed('README.md: no @app.job("name", ...) in the myapp.py block')
    return m.group(1)


def sdk_install_text(readme: str | None = None) -> str:
    """The README's sentence that ``pip install .`` installs the SDK and the command line,
    not the server."""
    text = README.read_text(encoding="utf-8") if readme is None else readme
    if "`pip install .` (without extras) installs the SDK and the `schedo` command line" \
            not in text:
        raise CheckFailed("README.md: the '`pip install .` (without extras)' sentence is gone")
    return "pip install ."


# --- running --------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"readme-check: {message}", flush=True)


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def clean_env(venv: Path, **extra: str) -> dict[str, str]:
    """The environment of a shell where ``venv`` is activated: no SCHEDO_* or Python settings
    leak in from the caller."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SCHEDO_")
        and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "KEY")
    }
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def sh(
    command: str, *, cwd: Path, env: dict[str, str], timeout: float, log: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with bash; output to ``log`` (and returned)."""
    try:
        proc = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        log.write_bytes(out if isinstance(out, bytes) else out.encode())
        raise CheckFailed(f"timed out after {timeout:.0f}s: {command}\n{tail(log)}") from None
    log.write_text(proc.stdout, encoding="utf-8")
    return proc


PYTHON = sys.executable  # the python3 that makes the venvs (--python)


def make_venv(path: Path, tmp: Path) -> None:
    log = tmp / f"venv-{path.name}.log"
    proc = sh(
        f"{shlex.quote(PYTHON)} -m venv {shlex.quote(str(path))}",
        cwd=tmp,
        env=clean_env(path),
        timeout=COMMAND_TIMEOUT,
        log=log,
    )
    if proc.returncode != 0:
        raise CheckFailed(f"python3 -m venv {path} failed:\n{tail(log)}")


def pip_install(venv: Path, command: str, tmp: Path, name: str) -> None:
    """Run a README ``python3 -m pip install ...`` command with the venv's python, in the
    checkout."""
    if not command.startswith("python3 -m pip install "):
        raise CheckFailed(f"not a 'python3 -m pip install' command: {command!r}")
    adapted = shlex.quote(str(venv / "bin" / "python")) + command[len("python3") :]
    log = tmp / f"pip-{name}.log"
    say(f"  $ {adapted}")
    proc = sh(adapted, cwd=ROOT, env=clean_env(venv), timeout=INSTALL_TIMEOUT, log=log)
    if proc.returncode != 0:
        raise CheckFailed(f"{command!r} failed (exit {proc.returncode}):\n{tail(log)}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, key: str | None = None, timeout: float = 10.0) -> tuple[int, Any]:
    req = urllib.request.Request(url, method=method)
    if key is not None:
        req.add_header("x-api-key", key)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def stop(proc: subprocess.Popen[bytes], what: str) -> int:
    """SIGTERM by pid; SIGKILL if it does not exit in time. Returns the exit code."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        raise CheckFailed(
            f"{what} (pid {proc.pid}) ignored SIGTERM for {STOP_TIMEOUT:.0f}s"
        ) from None


class Check:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = 0
        self.base = ""
        self.job_id = 0

    def spawn(
        self, script: str, *, cwd: Path, env: dict[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        """Start a long-running bash script (whose last line ``exec``s the command)."""
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", "-c", script],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.procs.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()

    # step 1 ------------------------------------------------------------------------------

    def server(self) -> subprocess.Popen[bytes]:
        line = server_install_line()
        install, serve = without_venv(line)
        venv = self.tmp / "server-venv"
        say(f"[server] fresh venv {venv} ({PYTHON} -m venv); README: {line}")
        t = time.monotonic()
        make_venv(venv, self.tmp)
        pip_install(venv, install, self.tmp, "server")
        say(f"  installed in {time.monotonic() - t:.1f}s")

        data = self.tmp / "server-data"
        data.mkdir()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = f"{serve} --port {self.port}"
        log = self.tmp / "serve.log"
        say(f"  $ cd {data} && SCHEDO_ADMIN_KEY=... {command}")
        proc = self.spawn(
            f"exec {command}", cwd=data, env=clean_env(venv, SCHEDO_ADMIN_KEY=ADMIN_KEY), log=log
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise CheckFailed(f"schedo serve exited with {proc.returncode}:\n{tail(log)}")
            try:
                status, _ = http("GET", f"{self.base}/readyz", timeout=2.0)
            except OSError:
                status = 0
            if status == 200:
                break
            if time.monotonic() > deadline:
                raise CheckFailed(
                    f"/readyz not 200 within {START_TIMEOUT:.0f}s (last {status}):\n{tail(log)}"
                )
            time.sleep(0.2)
        say(f"  /readyz 200 on port {self.port}, pid {proc.pid}")
        for name in ("schedo.db", "schedo.db.key"):
            if not (data / name).is_file():
                raise CheckFailed(f"schedo serve did not create {name} in the current folder")
        say("  schedo.db and schedo.db.key created in the current folder")

        curl = curl_define()
        name = defined_name(curl)
        adapted, n = re.subn(r"\b(localhost|127\.0\.0\.1):8000\b", rf"\1:{self.port}", curl)
        if n != 1:
            raise CheckFailed(f"README.md: expected one localhost:8000 URL in {curl!r}")
        adapted += " -w '\\n%{http_code}'"  # to see the status; the command is the README's
        say(f"  $ {adapted}")
        log = self.tmp / "curl-define.log"
        proc_curl = sh(
            adapted, cwd=data, env=clean_env(venv, KEY=ADMIN_KEY), timeout=COMMAND_TIMEOUT, log=log
        )
        body, _, code = proc_curl.stdout.rpartition("\n")
        if proc_curl.returncode != 0 or code.strip() != "200":
            raise CheckFailed(
                f"the README's define did not answer 200 (curl exit {proc_curl.returncode}, "
                f"HTTP {code.strip()}): {body}"
            )
        try:
            job = json.loads(body)
        except ValueError:
            raise CheckFailed(f"the README's define did not answer JSON: {body!r}") from None
        if not isinstance(job, dict) or job.get("name") != name:
            raise CheckFailed(f"the define answered a job not named {name!r}: {body}")
        self.job_id = int(job["id"])
        status, listed = http("GET", f"{self.base}/jobs", ADMIN_KEY)
        if status != 200 or not any(j.get("name") == name for j in listed):
            raise CheckFailed(f"GET /jobs does not list {name!r}: {status} {listed}")
        say(f"  200: job {name!r} created, id {self.job_id}; GET /jobs lists it")
        return proc

    # step 2 ------------------------------------------------------------------------------

    def sdk(self) -> None:
        sdk_install_text()
        venv = self.tmp / "sdk-venv"
        say(f"[sdk] fresh venv {venv}; README: `pip install .` (without extras)")
        t = time.monotonic()
        make_venv(venv, self.tmp)
        pip_install(venv, "python3 -m pip install .", self.tmp, "sdk")
        say(f"  installed in {time.monotonic() - t:.1f}s")

        work = self.tmp / "sdk-app"
        work.mkdir()
        probe = (
            "import importlib.util, json, sys\n"
            "import schedo, schedo.webhooks\n"
            "assert schedo.Schedo and schedo.Client and schedo.webhooks.verify\n"
            f"names = {SERVER_PACKAGES!r}\n"
            "loaded = sorted(n for n in names if n in sys.modules)\n"
            "installed = sorted(n for n in names if importlib.util.find_spec(n))\n"
            "print(json.dumps({'loaded': loaded, 'installed': installed}))\n"
        )
        log = self.tmp / "sdk-import.log"
        proc = sh(
            f"python -c {shlex.quote(probe)}",
            cwd=work,
            env=clean_env(venv),
            timeout=COMMAND_TIMEOUT,
            log=log,
        )
        if proc.returncode != 0:
            raise CheckFailed(f"import schedo failed in the SDK venv:\n{tail(log)}")
        seen = json.loads(proc.stdout.strip().splitlines()[-1])
        if seen["installed"]:
            raise CheckFailed(f"`pip install .` installed server packages: {seen['installed']}")
        if seen["loaded"]:
            raise CheckFailed(f"import schedo loaded server packages: {seen['loaded']}")
        say("  import schedo (Schedo, Client, webhooks): no server package installed or loaded")

        source = myapp_source()
        name = job_name(source)
        (work / "myapp.py").write_text(source, encoding="utf-8")
        export, worker = worker_lines()
        export, n = re.subn(r"\b(localhost|127\.0\.0\.1):8000\b", rf"\1:{self.port}", export)
        if n != 1:
            raise CheckFailed(f"README.md: expected one 127.0.0.1:8000 URL in {export!r}")
        say(f"  wrote myapp.py from README.md (job {name!r})")
        say(f"  $ {export}")
        say(f"  $ {worker}")
        # the export line sets the variables (KEY is the admin key), then the worker line
        log = self.tmp / "worker.log"
        wproc = self.spawn(
            f"{export}\nexec {worker}", cwd=work, env=clean_env(venv, KEY=ADMIN_KEY), log=log
        )
        say(f"  worker pid {wproc.pid}")

        status, listed = http("GET", f"{self.base}/jobs", ADMIN_KEY)
        ids = [j["id"] for j in listed if j.get("name") == name] if status == 200 else []
        job_id = ids[0] if ids else self.job_id
        status, execution = http("POST", f"{self.base}/jobs/trigger/{job_id}", ADMIN_KEY)
        if status != 200 or not isinstance(execution, dict):
            raise CheckFailed(f"POST /jobs/trigger/{job_id}: {status} {execution}")
        exec_id = execution["id"]
        say(f"  POST /jobs/trigger/{job_id}: run {exec_id} {execution.get('status')}")

        deadline = time.monotonic() + RUN_TIMEOUT
        run: dict[str, Any] = {}
        while True:
            if wproc.poll() is not None:
                raise CheckFailed(
                    f"the worker exited with {wproc.returncode} before the run was done:\n"
                    f"{tail(log)}"
                )
            status, runs = http("GET", f"{self.base}/jobs/executions/{job_id}", ADMIN_KEY)
            if status == 200:
                run = next((r for r in runs if r.get("id") == exec_id), {})
                if run.get("status") not in (None, "pending", "running", "queued"):
                    break
            if time.monotonic() > deadline:
                raise CheckFailed(
                    f"run {exec_id} not done within {RUN_TIMEOUT:.0f}s (last {run}):\n{tail(log)}"
                )
            time.sleep(0.3)
        if run.get("status") != "completed" or "123" not in (run.get("output") or ""):
            raise CheckFailed(f"run {exec_id} is not completed with 123 in its output: {run}")
        say(f"  run {exec_id} completed, output {run['output']!r}")

        code = stop(wproc, "schedo worker")
        if code != 0:
            raise CheckFailed(f"schedo worker exited {code} on SIGTERM, expected 0:\n{tail(log)}")
        say(f"  SIGTERM -> worker exited 0 (pid {wproc.pid})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--python", default=sys.executable, help="the python3 that makes the venvs [this one]"
    )
    args = parser.parse_args(argv)
    global PYTHON
    PYTHON = args.python
    if shutil.which("curl") is None:
        say("FAILED: curl is not installed (the README's examples use it)")
        return 1
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="schedo-readme-"))
    check = Check(tmp)
    ok = False
    try:
        server = check.server()
        check.sdk()
        code = stop(server, "schedo serve")
        if code != 0:
            raise CheckFailed(
                f"schedo serve exited {code} on SIGTERM, expected 0:\n{tail(tmp / 'serve.log')}"
            )
        say(f"  SIGTERM -> server exited 0 (pid {server.pid})")
        ok = True
    except CheckFailed as exc:
        say(f"FAILED: {exc}")
    finally:
        check.cleanup()
        if args.keep or not ok:
            say(f"logs and venvs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - started
    if ok:
        say(f"OK: README.md's install and first-use commands work ({elapsed:.1f}s)")
        return 0
    say(f"README.md check failed after {elapsed:.1f}s")
    return 1


if __name__ == "__main__":
    sys.exit(main())
