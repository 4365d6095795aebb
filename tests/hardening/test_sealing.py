"""Webhook signature keys are sealed at rest (storage/sealing.py, docs/hardening.md "Secrets at
rest"): the sealing itself, where the key comes from, the upgrade of plaintext databases, a
wrong or missing key refused with a clear message, and ``schedo serve`` with its default key
file on SQLite and without a key on PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from schedo.server.services import keys
from schedo.server.storage.db import Database
from schedo.server.storage.migrate import migrate
from schedo.server.storage.schema import environments, server_meta
from schedo.server.storage.sealing import (
    Sealer,
    SealError,
    env_context,
    load_sealer,
    parse_key,
)
from schedo.server.storage.sql import KEY_CHECK, SqlStore
from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database
from tests.support.server import ServerProcess

NOW = datetime(2026, 11, 29, tzinfo=UTC)
C = env_context(1)


def test_seal_round_trip_is_randomised_bounded_and_authenticated() -> None:
    s = Sealer.random()
    secret = keys.new_secret()
    a, b = s.seal(secret, C), s.seal(secret, C)
    assert a != b and a.startswith("v1:") and len(a) <= 128  # fits String(128)
    assert secret not in a
    assert s.unseal(a, C) == secret == s.unseal(b, C)
    assert s.unseal(secret, C) == secret  # legacy plaintext reads as is
    flipped = a[:-6] + ("A" if a[-6] != "A" else "B") + a[-5:]
    for bad in (flipped, "v1:not-base64!", "v1:" + base64.b64encode(b"short").decode()):
        with pytest.raises(SealError, match="does not open"):
            s.unseal(bad, C)
    with pytest.raises(SealError, match="does not open"):
        Sealer.random().unseal(a, C)  # another key
    with pytest.raises(SealError, match="does not open"):
        s.unseal(a, env_context(2))  # another environment's row


@pytest.mark.parametrize("text", ["", "abc", base64.b64encode(b"x" * 31).decode(), "%%%%"])
def test_bad_keys_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(SealError, match="openssl rand -base64 32"):
        parse_key(text, "SCHEDO_SECRET_KEY")


def test_key_sources(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = load_sealer(url, None, None)
    key_file = tmp_path / "a.db.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = load_sealer(url, None, None)
    assert again.unseal(first.seal("x", C), C) == "x"  # the same key, read back
    named = tmp_path / "elsewhere.key"
    other = load_sealer(url, None, str(named))
    assert named.exists() and other.source.path == named
    with pytest.raises(SealError):
        other.unseal(first.seal("x", C), C)
    env = base64.b64encode(os.urandom(32)).decode()
    from_env = load_sealer(url, env, str(named))  # SCHEDO_SECRET_KEY wins
    assert from_env.source.kind == "env"
    assert Sealer(base64.b64decode(env)).unseal(from_env.seal("y", C), C) == "y"
    assert load_sealer("sqlite://", None, None).source.kind == "memory"
    with pytest.raises(SealError, match="required with PostgreSQL"):
        load_sealer("postgresql://u@127.0.0.1/db", None, None)
    with pytest.raises(SealError, match="folder"):
        load_sealer(f"sqlite:///{tmp_path / 'missing' / 'b.db'}", None, None)


def test_processes_starting_together_agree_on_one_key_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    got: list[Sealer] = []
    start = threading.Barrier(8)

    def load() -> None:
        start.wait()
        got.append(load_sealer(url, None, None))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sealed = got[0].seal("same", C)
    assert len(got) == 8 and all(s.unseal(sealed, C) == "same" for s in got)


async def _bootstrapped(db_url: str, sealer: Sealer) -> SqlStore:
    db = Database(db_url)
    await migrate(db)
    store = SqlStore(db, sealer)
    await store.prepare_sealing()
    await store.bootstrap(org_name="o", env_name="production", signature_key="plain-key-1",
                          admin_prefix="p", admin_digest="d", pepper="pep", now=NOW)
    await store.create_environment(1, "staging", "plain-key-2", NOW)
    return store


async def test_plaintext_keys_of_an_older_database_are_sealed_at_start(db_url: str) -> None:
    sealer = Sealer.random()
    store = await _bootstrapped(db_url, sealer)
    try:
        # the database as a version without sealing left it: keys in clear, no check value
        async with store.db.write() as c:
            await c.execute(update(environments).where(environments.c.id == 1)
                            .values(webhook_signature_key="plain-key-1"))
            await c.execute(server_meta.delete().where(server_meta.c.key == KEY_CHECK))
        assert await store.prepare_sealing() == 1
        assert await store.prepare_sealing() == 0  # idempotent
        async with store.db.read() as c:
            stored = [r[0] for r in await c.execute(select(environments.c.webhook_signature_key))]
        assert len(stored) == 2 and all(v.startswith("v1:") for v in stored)
        assert [e.webhook_signature_key for e in await store.list_environments(1)] == [
            "plain-key-1", "plain-key-2"]
        # another key is refused before anything is touched
        with pytest.raises(SealError, match="is not the one this database"):
            await SqlStore(store.db, Sealer.random()).prepare_sealing()
        async with store.db.read() as c:
            after = [r[0] for r in await c.execute(select(environments.c.webhook_signature_key))]
        assert after == stored
    finally:
        await store.close()


def _stored_keys(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT webhook_signature_key FROM environments")]


def test_serve_creates_and_keeps_its_key_file(tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    srv = ServerProcess(f"sqlite:///{db}", tmp_path).start()
    try:
        with srv.client() as c:
            key = c.get("/org/environments").json()[0]["webhook_signature_key"]
    finally:
        srv.stop()
    key_file = tmp_path / "served.db.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(parse_key(key_file.read_text(), "test")) == 32
    assert key.encode() not in db.read_bytes()
    assert all(v.startswith("v1:") for v in _stored_keys(db))
    srv = ServerProcess(f"sqlite:///{db}", tmp_path, port=srv.port).start()
    try:
        with srv.client() as c:
            assert c.get("/org/environments").json()[0]["webhook_signature_key"] == key
    finally:
        srv.stop()
    # a bad SCHEDO_SECRET_KEY: one clear line, exit 1
    bad = ServerProcess(f"sqlite:///{db}", tmp_path, extra_env={"SCHEDO_SECRET_KEY": "nope"})
    bad.start(wait=False)
    assert bad.proc is not None and bad.proc.wait(30) == 1
    assert "SCHEDO_SECRET_KEY: not the base64 of 32 bytes" in bad.log()
    # the key file lost: refused; reset-signature-keys (server stopped) is the way back
    key_file.unlink()
    lost = ServerProcess(f"sqlite:///{db}", tmp_path)
    lost.start(wait=False)
    assert lost.proc is not None and lost.proc.wait(30) == 1
    assert "reset-signature-keys" in lost.log()
    assert _cli("reset-signature-keys", "--db", f"sqlite:///{db}").returncode == 2
    done = _cli("reset-signature-keys", "--db", f"sqlite:///{db}", "--yes")
    assert done.returncode == 0 and "1 environment(s): production" in done.stdout, done
    srv = ServerProcess(f"sqlite:///{db}", tmp_path).start()
    try:
        with srv.client() as c:
            new = c.get("/org/environments").json()[0]["webhook_signature_key"]
        assert new != key and len(new) == len(key)
        # while a server holds the file, the reset is refused
        busy = _cli("reset-signature-keys", "--db", f"sqlite:///{db}", "--yes")
        assert busy.returncode == 1 and "already served" in busy.stderr
    finally:
        srv.stop()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDO_")}
    return subprocess.run([sys.executable, "-m", "schedo.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not PG_URL, reason="needs SCHEDO_TEST_POSTGRES_URL")
def test_serve_on_postgres_needs_a_key(tmp_path: Path) -> None:
    assert PG_URL is not None
    url = asyncio.run(_fresh_pg_database(PG_URL))
    try:
        srv = ServerProcess(url, tmp_path, extra_env={"SCHEDO_SECRET_KEY": ""})
        srv.start(wait=False)
        assert srv.proc is not None and srv.proc.wait(30) == 1
        assert ("SCHEDO_SECRET_KEY or SCHEDO_SECRET_KEY_FILE is required with PostgreSQL"
                in srv.log())
    finally:
        asyncio.run(_drop_pg_database(url))


async def test_a_key_sealed_with_another_key_is_refused_at_start(db_url: str) -> None:
    store = await _bootstrapped(db_url, Sealer.random())
    try:
        foreign = Sealer.random().seal("from-a-process-with-another-key", env_context(2))
        async with store.db.write() as c:
            await c.execute(update(environments).where(environments.c.id == 2)
                            .values(webhook_signature_key=foreign))
        with pytest.raises(SealError, match=r"environment\(s\) \[2\] do not open"):
            await store.prepare_sealing()
    finally:
        await store.close()


async def test_one_unreadable_key_fails_its_own_pushes_only(tmp_path: Path) -> None:
    from schedo.server.config import Settings
    from schedo.server.observability.metrics_store import MeteredOutboundClient
    from schedo.server.push.dispatcher import Dispatcher
    from schedo.server.runtime.clock import FakeClock
    from tests.conftest import ADMIN_KEY, START
    from tests.hardening.conftest import running
    from tests.hardening.test_secrets import _Receiver

    receiver = _Receiver()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'u.db'}", admin_key=ADMIN_KEY,
                        allow_private_webhooks=True)
    try:
        async with running(settings, FakeClock(START)) as h:
            staging = (await h.client.post("/org/environments", json={"name": "staging"},
                                           headers=h.admin)).json()
            for env_id in (1, staging["id"]):
                hdr = {**h.admin, "X-API-ENVIRONMENT": str(env_id)}
                job = (await h.client.post("/jobs/definition", headers=hdr, json={
                    "name": "push", "schedule": "0 0 1 1 *", "webhook_url": receiver.url,
                })).json()
                r = await h.client.post(f"/jobs/trigger/{job['id']}", headers=hdr)
                assert r.status_code == 200, r.text
            async with h.svc.store.db.write() as c:  # as if sealed by a process with another key
                await c.execute(update(environments).where(environments.c.id == staging["id"])
                                .values(webhook_signature_key=Sealer.random().seal("k" * 43, C)))
            client = MeteredOutboundClient(True, metrics=h.metrics)
            try:
                tasks = await Dispatcher(h.svc, client=client).dispatch_once(h.clock.now())
                await asyncio.wait_for(asyncio.gather(*tasks), 20)
            finally:
                await client.aclose()
            outcomes = {}
            for env_id in (1, staging["id"]):
                hdr = {**h.admin, "X-API-ENVIRONMENT": str(env_id)}
                [job] = (await h.client.get("/jobs", headers=hdr)).json()
                [run] = (await h.client.get(f"/jobs/executions/{job['id']}", headers=hdr)).json()
                outcomes[env_id] = (run["status"], run.get("error") or "")
        assert outcomes[1] == ("completed", "")
        status, error = outcomes[staging["id"]]
        assert status == "failed" and "cannot unseal" in error
        assert len(receiver.received) == 1  # nothing was sent with a wrong signature
    finally:
        receiver.server.shutdown()


async def test_a_sealed_key_copied_to_another_environment_does_not_open_there(
    db_url: str,
) -> None:
    store = await _bootstrapped(db_url, Sealer.random())
    try:
        async with store.db.write() as c:
            env1 = (await c.execute(select(environments.c.webhook_signature_key)
                                    .where(environments.c.id == 1))).scalar_one()
            await c.execute(update(environments).where(environments.c.id == 2)
                            .values(webhook_signature_key=env1))
        # served: shown empty, not env 1's key, and no error; at start: refused
        envs = {e.id: e.webhook_signature_key for e in await store.list_environments(1)}
        assert envs == {1: "plain-key-1", 2: ""}
        with pytest.raises(SealError, match=r"\[2\] do not open"):
            await store.prepare_sealing()
    finally:
        await store.close()


@pytest.mark.skipif(not PG_URL, reason="needs SCHEDO_TEST_POSTGRES_URL")
async def test_reset_is_refused_while_a_server_serves_a_postgres_database() -> None:
    from schedo.server.runtime.bus import Bus
    from schedo.server.runtime.pgbridge import PgBridge
    from schedo.server.storage.db import asyncpg_dsn

    assert PG_URL is not None
    url = await _fresh_pg_database(PG_URL)
    store = await _bootstrapped(url, Sealer.random())
    bridge = PgBridge(asyncpg_dsn(url), Bus())  # what every serving process runs
    task = asyncio.create_task(bridge.run())
    try:
        for _ in range(100):
            if bridge._conn is not None and not bridge._conn.is_closed():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # the shared lock is taken right after connecting
        with pytest.raises(SealError, match="a schedo server is serving this database"):
            await store.reset_signature_keys(keys.new_secret)
        assert [e.webhook_signature_key for e in await store.list_environments(1)] == [
            "plain-key-1", "plain-key-2"]  # nothing changed
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert await store.reset_signature_keys(keys.new_secret) == ["production", "staging"]
        assert "plain-key-1" not in [e.webhook_signature_key
                                     for e in await store.list_environments(1)]
    finally:
        task.cancel()
        await store.close()
        await _drop_pg_database(url)
