"""The last admin key cannot revoke itself, and ``schedo admin-key --rotate`` is the local way
to a new one (issue 24, point 4)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from schedo.server.services import keys
from tests.conftest import PG_URL, Api, _drop_pg_database, _fresh_pg_database
from tests.support.server import ServerProcess


async def test_the_last_admin_key_cannot_be_revoked(api: Api) -> None:
    keys_before = (await api.client.get("/apikeys", headers=api.admin)).json()
    r = await api.client.delete("/apikeys/revoke/1", headers=api.admin)
    assert r.status_code == 409, r.text
    assert "last admin key" in r.json()["message"] and "admin-key --rotate" in r.json()["message"]
    assert r.headers["x-should-retry"] == "false"
    assert (await api.client.get("/jobs", headers=api.admin)).status_code == 200
    assert (await api.client.get("/apikeys", headers=api.admin)).json() == keys_before
    # with a second admin key, one of them can go; then the other is the last one
    secret = keys.new_key()
    second = await api.svc.store.create_key(
        org_id=1, env_id=None, name="second-admin", prefix=keys.lookup_prefix(secret),
        digest=keys.digest(api.svc.pepper, secret), admin=True, internal=False,
        now=api.clock.now(),
    )
    r = await api.client.delete("/apikeys/revoke/1", headers={"x-api-key": secret})
    assert r.status_code == 200 and r.json()[0]["revoked"] is True
    r = await api.client.delete(f"/apikeys/revoke/{second.id}", headers={"x-api-key": secret})
    assert r.status_code == 409
    # environment keys are revoked as before
    env_key = (await api.client.post("/apikeys", json={"environment_id": 1, "name": "e"},
                                     headers={"x-api-key": secret})).json()
    r = await api.client.delete(f"/apikeys/revoke/{env_key['id']}",
                                headers={"x-api-key": secret})
    assert r.status_code == 200


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDO_")}
    return subprocess.run([sys.executable, "-m", "schedo.cli", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def _works(srv: ServerProcess, key: str) -> int:
    return httpx.get(srv.url + "/jobs", headers={"x-api-key": key}, timeout=10).status_code


def _rotate_scenario(db_url: str, tmp_path: Path, busy_words: str) -> None:
    srv = ServerProcess(db_url, tmp_path).start()
    old = srv.admin_key or ""
    try:
        busy = _cli("admin-key", "--rotate", "--db", db_url)
        assert busy.returncode == 1, busy
        assert busy_words in busy.stderr, busy.stderr
        assert _works(srv, old) == 200
    finally:
        srv.stop()
    assert _cli("admin-key", "--db", db_url).returncode == 2  # says what --rotate does
    done = _cli("admin-key", "--rotate", "--db", db_url)
    assert done.returncode == 0, done
    new = done.stdout.strip().splitlines()[-1]
    assert new.startswith("sk_") and new != old
    assert "1 earlier admin key(s) revoked" in done.stdout
    srv = ServerProcess(db_url, tmp_path, port=srv.port).start()
    try:
        assert _works(srv, old) == 401
        assert _works(srv, new) == 200
        listed = httpx.get(srv.url + "/apikeys", headers={"x-api-key": new}, timeout=10)
        assert listed.status_code == 200
    finally:
        srv.stop()
    # a chosen value, e.g. for a secrets manager
    chosen = "my-own-admin-key-0123456789"
    assert _cli("admin-key", "--rotate", "--db", db_url, "--value", "short").returncode == 2
    bad = _cli("admin-key", "--rotate", "--db", db_url, "--value", "tab\there-0123456789")
    assert bad.returncode == 2 and "control characters" in bad.stderr, bad
    # an organisation id no database column can hold: refused before any query
    assert _cli("admin-key", "--rotate", "--db", db_url, "--org", "2147483648").returncode == 2
    done = _cli("admin-key", "--rotate", "--db", db_url, "--value", chosen)
    assert done.returncode == 0 and done.stdout.strip().endswith(chosen), done


def test_rotate_on_sqlite(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'schedo.db'}"
    _rotate_scenario(db, tmp_path, "already served")
    # no database file: a clear refusal, no file made
    missing = _cli("admin-key", "--rotate", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.returncode == 1 and "no such database file" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    # no key file is read or made by a rotation
    assert not (tmp_path / "none.db.key").exists()


@pytest.mark.skipif(not PG_URL, reason="needs SCHEDO_TEST_POSTGRES_URL")
def test_rotate_on_postgres(tmp_path: Path) -> None:
    assert PG_URL is not None
    url = asyncio.run(_fresh_pg_database(PG_URL))
    try:
        _rotate_scenario(url, tmp_path, "serving this database")
    finally:
        asyncio.run(_drop_pg_database(url))
