"""What a running ``schedo serve`` process keeps imported (issue 18: idle server RSS).

A real server on a SQLite file records, at exit, every module it loaded. The start-up
migrations, the sealing-key check and organisation 1's bootstrap run in a forked child
(server/serve.py), so Alembic, Mako and cryptography never reach the server process, on a
new database as on an existing one; OIDC's libraries wait for the first sign-in
(services/oidc.py), argon2 for the first password (services/people.py); structlog is
imported without rich nor its greenlet thread-local (observability/logs.py), uvicorn without
watchfiles and with no websocket implementation, FastAPI without pydantic.v1 (serve.py),
the command without typer (cli/serve_run.py); the partial indexes do not load the PostgreSQL
dialect (storage/schema_types.py). A module marked absent (``None``) is not loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import ADMIN_KEY, child_env, free_port, wait_until
from tests.support.worker import ROOT

SERVE = (
    "import atexit, sys\n"
    "out = sys.argv[1]\n"
    "atexit.register(lambda: open(out, 'w').write(\n"
    "    '\\n'.join(m for m, v in sys.modules.items() if v is not None)))\n"
    "sys.argv = ['schedo', 'serve', *sys.argv[2:]]\n"
    "from schedo.cli import main\n"
    "main()\n"
)
# loaded by the start-up child or at first use only, or never by a server
NOT_AT_START = {"alembic", "mako", "cryptography", "joserfc", "authlib", "rich", "pygments",
                "argon2", "websockets", "watchfiles", "greenlet", "typer"}  # fmt: skip
NOT_AT_START_MODULES = {"sqlalchemy.dialects.postgresql", "uvicorn.protocols.websockets",
                        "pydantic.v1"}  # fmt: skip


def _serve(tmp_path: Path, db: Path, name: str) -> set[str]:
    """Start a server on ``db``, make a few API requests, stop it: its top-level modules."""
    out, port = tmp_path / f"{name}.modules", free_port()
    env = child_env(SCHEDO_ADMIN_KEY=ADMIN_KEY, PYTHONPATH=str(ROOT / "src"))
    with open(tmp_path / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(out), "--port", str(port), "--db",
             f"sqlite:///{db}"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            assert proc.poll() is None, (tmp_path / f"{name}.log").read_text()
            try:
                return httpx.get(url + "/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 30, what="server ready")
        with httpx.Client(base_url=url, headers={"x-api-key": ADMIN_KEY}) as c:
            assert c.get("/org").status_code == 200
            assert c.get("/jobs/1").status_code == 404
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    return set(out.read_text().split())


def _unwanted(modules: set[str]) -> set[str]:
    top = {m.split(".")[0] for m in modules}
    return (top & NOT_AT_START) | {
        m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_AT_START_MODULES)
    }


def test_server_does_not_keep_start_up_modules(tmp_path: Path) -> None:
    db = tmp_path / "schedo.db"
    new = _serve(tmp_path, db, "new")
    assert {"sqlalchemy", "fastapi", "structlog"} <= new  # the probe sees the server's modules
    assert not _unwanted(new), sorted(_unwanted(new))
    existing = _serve(tmp_path, db, "existing")
    assert not _unwanted(existing), sorted(_unwanted(existing))
