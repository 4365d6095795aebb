"""``schedo serve`` as a real process: start, persist, refuse, shut down cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import ServerProcess, free_port, wait_until
from tests.support.worker import ROOT


def test_full_flow_with_restart_on_same_file(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'schedo.db'}"
    srv = ServerProcess(db, tmp_path).start()
    try:
        with srv.client() as c:
            job = c.post("/jobs/definition", json={"name": "nightly-report",
                                                   "schedule": "0 2 * * *"}).json()
            assert c.patch(f"/jobs/pause/{job['id']}").json()["paused"] is True
            run = c.post(f"/jobs/trigger/{job['id']}").json()
            assert run["trigger"] == "manual"
            key = c.post("/apikeys", json={"environment_id": 1, "name": "w"}).json()
            c.post("/org/emails", json="ops@example.com")
    finally:
        assert srv.stop(signal.SIGTERM) == 0, srv.log()
    srv2 = ServerProcess(db, tmp_path, port=srv.port).start()
    try:
        with srv2.client() as c:
            got = c.get(f"/jobs/{job['id']}").json()
            assert got["job"]["paused"] is True and got["last_run"]["id"] == run["id"]
            assert c.get("/org/emails").json() == ["ops@example.com"]
            r = httpx.get(srv2.url + "/jobs", headers={"x-api-key": key["key"]})
            assert r.status_code == 200
            assert c.delete(f"/jobs/{job['id']}").status_code == 200
            assert c.get("/jobs").json() == []
    finally:
        assert srv2.stop(signal.SIGINT) == 0, srv2.log()


def test_generated_admin_key_is_printed_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'gen.db'}"
    srv = ServerProcess(db, tmp_path, admin_key=None).start()
    srv.stop()
    text = srv.log()
    keys = [line.strip() for line in text.splitlines() if line.strip().startswith("sk_")]
    assert len(keys) == 1, text
    srv = ServerProcess(db, tmp_path, admin_key=None, port=srv.port).start()
    try:
        r = httpx.get(srv.url + "/jobs", headers={"x-api-key": keys[0]})
        assert r.status_code == 200
    finally:
        srv.stop()
    printed = [line for line in srv.log().splitlines() if line.strip().startswith("sk_")]
    assert len(printed) == 1  # not printed again on the second start


def _serve(args: list[str], cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schedo.cli", "serve", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "SCHEDO_ADMIN_KEY": "x" * 20,
                               "HOME": str(cwd), "SCHEDO_SECRET_KEY_FILE": str(cwd / "k.key")})


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _serve(["--port", str(port), "--db", f"sqlite:///{tmp_path / 'a.db'}"], tmp_path)
    assert r.returncode != 0
    assert "already in use" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_bad_database_is_one_clear_line(tmp_path: Path) -> None:
    port = str(free_port())
    for db, words in [
        (f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}", "does not exist"),
        ("postgresql://nobody@127.0.0.1:1/none", "cannot open"),
        ("mysql://x@localhost/db", "unsupported"),
    ]:
        r = _serve(["--port", port, "--db", db], tmp_path)
        assert r.returncode != 0, db
        assert words in r.stderr, (db, r.stderr)
        assert "Traceback" not in r.stderr + r.stdout, r.stderr
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a sqlite database" * 100)
    r = _serve(["--port", port, "--db", f"sqlite:///{garbage}"], tmp_path)
    assert r.returncode != 0 and "cannot open" in r.stderr and "Traceback" not in r.stderr


def test_bad_admin_key_on_a_new_database_is_one_clear_line(tmp_path: Path) -> None:
    """The bootstrap runs in the start-up child (server/serve.py): its refusal of
    SCHEDO_ADMIN_KEY is the one line, before the server listens."""
    r = subprocess.run(
        [sys.executable, "-m", "schedo.cli", "serve", "--port", str(free_port()), "--db",
         f"sqlite:///{tmp_path / 'new.db'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin:/bin", "SCHEDO_ADMIN_KEY": "short", "HOME": str(tmp_path),
             "SCHEDO_SECRET_KEY_FILE": str(tmp_path / "k.key"), "PYTHONPATH": str(ROOT / "src")},
    )
    assert r.returncode == 1, r.stderr
    assert "schedo: SCHEDO_ADMIN_KEY: must be" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


def test_second_server_on_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    srv = ServerProcess(db, tmp_path).start()
    try:
        r = _serve(["--port", str(free_port()), "--db", db], tmp_path)
        assert r.returncode != 0
        assert "already served by another schedo process" in r.stderr, r.stderr
        assert srv.ready()
    finally:
        srv.stop()


def test_sigterm_while_serving_requests_exits_zero(tmp_path: Path) -> None:
    srv = ServerProcess(f"sqlite:///{tmp_path / 's.db'}", tmp_path).start()
    with srv.client() as c:
        for i in range(20):
            c.post("/jobs/definition", json={"name": f"job-{i:03d}", "schedule": "* * * * * *"})
    wait_until(lambda: len(httpx.get(srv.url + "/jobs/executions/1",
                                     headers=srv.headers).json()) > 0, 10, what="ticks")
    assert srv.stop(signal.SIGTERM) == 0, srv.log()
    assert "Traceback" not in srv.log()


def test_sigterm_ends_open_long_polls_at_once(tmp_path: Path) -> None:
    import threading
    import time

    srv = ServerProcess(f"sqlite:///{tmp_path / 'lp.db'}", tmp_path).start()
    with srv.client() as c:
        c.post("/jobs/definition", json={"name": "idle-job", "schedule": "0 0 1 1 *"})
    answers: list[object] = []

    def poll() -> None:
        try:
            r = httpx.get(srv.url + "/jobs/executions?jobs=idle-job&wait=25",
                          headers=srv.headers, timeout=40)
            answers.append(r.json())
        except httpx.HTTPError as exc:
            answers.append(exc)

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(1)
    started = time.monotonic()
    assert srv.stop(signal.SIGTERM) == 0, srv.log()
    assert time.monotonic() - started < 5, "shutdown waited for the long poll"
    t.join(10)
    assert answers == [[]]
    assert "Traceback" not in srv.log()


def test_bad_smtp_url_is_one_clear_line(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "schedo.cli", "serve", "--port", str(free_port()),
                        "--db", f"sqlite:///{tmp_path / 'm.db'}"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "SCHEDO_ADMIN_KEY": "x" * 20,
                            "SCHEDO_SMTP_URL": "ftp://mail.example.com"})
    assert r.returncode == 1
    assert r.stderr.strip().startswith("schedo: SCHEDO_SMTP_URL:") and "Traceback" not in r.stderr
