"""``schedo user add`` (issue 22): the first dashboard user, made from the server's host
beside a running server (real processes, SQLite and PostgreSQL); the user then signs in to
the real server with the address and password. Bad input is refused with a message and
changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Cli
from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database
from tests.support.server import ServerProcess

PASSWORD = "a long enough password"


def _cli(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDO_")}
    return subprocess.run([sys.executable, "-m", "schedo.cli", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=60, input=stdin)


def _sign_in(srv: ServerProcess, email: str, password: str) -> int:
    with httpx.Client(base_url=srv.url, timeout=10) as b:
        page = b.get("/ui/login")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found
        r = b.post("/ui/login", data={"email": email, "password": password,
                                      "csrf": found.group(1)})
        if r.status_code == 303:
            assert b.get("/ui/jobs").status_code == 200
        return r.status_code


def _scenario(db_url: str, tmp_path: Path) -> None:
    srv = ServerProcess(db_url, tmp_path).start()
    try:
        done = _cli("user", "add", "Alice@Example.com", "--role", "admin", "--db", db_url,
                    SCHEDO_USER_PASSWORD=PASSWORD)
        assert done.returncode == 0, done
        assert "Added user alice@example.com" in done.stdout and "every environment" in done.stdout
        assert PASSWORD not in done.stdout + done.stderr
        assert _sign_in(srv, "alice@example.com", PASSWORD) == 303
        assert _sign_in(srv, "alice@example.com", PASSWORD + "!") == 401
        # the password from a prompt, asked twice
        prompted = _cli("user", "add", "bob@example.com", "--role", "viewer", "--env", "1",
                        "--db", db_url, stdin=f"{PASSWORD}\n{PASSWORD}\n")
        assert prompted.returncode == 0, prompted
        assert "as viewer in environment 1" in prompted.stdout
        assert _sign_in(srv, "bob@example.com", PASSWORD) == 303
        for args, words in (
            (("carol@example.com", "--role", "root"), "role: must be one of"),
            (("not-an-address",), "email"),
            (("alice@example.com",), "already has an account"),
            (("dave@example.com", "--env", "987654"), "environment 987654 not found"),
        ):
            bad = _cli("user", "add", *args, "--db", db_url, SCHEDO_USER_PASSWORD=PASSWORD)
            assert bad.returncode == 1 and words in bad.stderr, (args, bad)
        short = _cli("user", "add", "erin@example.com", "--db", db_url,
                     SCHEDO_USER_PASSWORD="short")
        assert short.returncode == 1 and "password: must be" in short.stderr
        assert _sign_in(srv, "erin@example.com", "short") == 401
    finally:
        srv.stop()


def test_user_add_on_sqlite(tmp_path: Path) -> None:
    _scenario(f"sqlite:///{tmp_path / 'schedo.db'}", tmp_path)
    missing = _cli("user", "add", "a@example.com", "--db",
                   f"sqlite:///{tmp_path / 'none.db'}", SCHEDO_USER_PASSWORD=PASSWORD)
    assert missing.returncode == 1 and "no such database file" in missing.stderr
    assert not (tmp_path / "none.db").exists()


@pytest.mark.skipif(not PG_URL, reason="needs SCHEDO_TEST_POSTGRES_URL")
def test_user_add_on_postgres(tmp_path: Path) -> None:
    assert PG_URL is not None
    url = asyncio.run(_fresh_pg_database(PG_URL))
    try:
        _scenario(url, tmp_path)
    finally:
        asyncio.run(_drop_pg_database(url))


def test_keys_create_with_a_scope(cli: Cli) -> None:
    r = cli("keys", "create", "reader", "--scope", "read", "--json")
    assert r.exit_code == 0, r.output
    made = json.loads(r.stdout)
    assert made["scope"] == "read"
    reader = made["key"]
    assert cli("jobs", "ls", key=reader).exit_code == 0  # it sees
    r = cli("keys", "create", "sneaky", key=reader)  # and changes nothing
    assert r.exit_code != 0 and "permission denied" in r.output
    r = cli("keys", "create", "bad", "--scope", "root")
    assert r.exit_code != 0 and "scope: must be one of" in r.output
    r = cli("keys", "create", "plain")
    assert r.exit_code == 0 and "scope full" in r.output
