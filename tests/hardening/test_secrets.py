"""Secrets stay secret: issued API keys and webhook signature keys never appear in clear in
the SQLite database file (signature keys are sealed, and pushes still verify), in logs
captured at DEBUG over a representative flow (create keys and environments, define push and
sdk jobs, trigger, deliver, claim, complete), or in any error body."""

from __future__ import annotations

import asyncio
import io
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from schedo import webhooks
from schedo.server.config import Settings
from schedo.server.observability import logs
from schedo.server.observability.logs_hardening import quiet_secret_loggers
from schedo.server.observability.metrics_store import MeteredOutboundClient
from schedo.server.push.dispatcher import Dispatcher
from schedo.server.runtime.clock import FakeClock
from schedo.server.scheduler.ticker import Ticker
from tests.conftest import ADMIN_KEY, START
from tests.hardening.conftest import HApi, running


class _Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append((body, dict(self.headers.items())))
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    """The server's own logging set-up at DEBUG (JSON lines), written to a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level,
             {n: logging.getLogger(n).level for n in ("sqlalchemy", "aiosqlite", "alembic")})
    logs.configure("DEBUG", "json")
    quiet_secret_loggers()  # the wiring docs/hardening.md adds to logs.configure
    buf = io.StringIO()
    for h in root.handlers:
        if isinstance(h, logging.StreamHandler):
            h.setStream(buf)
    yield buf
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


@dataclass
class Flow:
    secrets: dict[str, str] = field(default_factory=dict)
    errors: list[httpx.Response] = field(default_factory=list)


async def _flow(h: HApi, receiver: _Receiver) -> Flow:
    flow = Flow(secrets={"admin key": ADMIN_KEY})
    c, admin = h.client, h.admin

    async def call(method: str, url: str, **kw: Any) -> httpx.Response:
        r = await c.request(method, url, **kw)
        if r.status_code >= 400:
            flow.errors.append(r)
        return r

    envs = (await call("GET", "/org/environments", headers=admin)).json()
    flow.secrets["signature key 1"] = envs[0]["webhook_signature_key"]
    staging = (await call("POST", "/org/environments", json={"name": "staging"},
                          headers=admin)).json()
    flow.secrets["signature key 2"] = staging["webhook_signature_key"]
    keys: dict[int, dict[str, str]] = {}
    for env_id in (1, staging["id"]):
        r = await call("POST", "/apikeys", json={"environment_id": env_id, "name": "worker"},
                       headers=admin)
        keys[env_id] = {"x-api-key": r.json()["key"]}
        flow.secrets[f"env key {env_id}"] = r.json()["key"]
    k1, k2 = keys[1], keys[staging["id"]]
    # push jobs in both environments, triggered and delivered
    for key in (k1, k2):
        job = (await call("POST", "/jobs/definition", headers=key, json={
            "name": "push-secret-test", "schedule": "0 0 1 1 *", "webhook_url": receiver.url,
        })).json()
        await call("POST", f"/jobs/trigger/{job['id']}", headers=key)
    client = MeteredOutboundClient(True, metrics=h.metrics)
    d = Dispatcher(h.svc, client=client)
    try:
        tasks = await d.dispatch_once(h.clock.now())
        await asyncio.wait_for(asyncio.gather(*tasks), 20)
    finally:
        await client.aclose()
    # an sdk job: tick, claim, complete
    sdk = (await call("POST", "/jobs/definition", headers=k1,
                      json={"name": "sdk-secret-test", "schedule": "* * * * *"})).json()
    h.clock.advance(61)
    await Ticker(h.svc).tick_once(h.clock.now())
    [run] = (await call("GET", "/jobs/executions?jobs=sdk-secret-test&wait=0", headers=k1)).json()
    await call("POST", f"/jobs/executions/complete/{run['id']}", headers=k1,
               json={"success": True, "output": "done"})
    # errors of every kind, some carrying secrets in the request
    wrong = {"x-api-key": flow.secrets["env key 1"][:-4] + "AAAA"}
    await call("GET", "/jobs", headers=wrong)
    await call("GET", "/jobs", headers={**k1, "X-API-ENVIRONMENT": str(staging["id"])})
    await call("GET", f"/jobs/{sdk['id']}", headers=k2)  # another environment's job: 404
    await call("POST", "/org/environments", json={"name": "x"}, headers=k1)  # 403
    await call("POST", "/apikeys", json={"environment_id": flow.secrets["env key 1"],
                                         "name": "k"}, headers=admin)
    await call("POST", "/jobs/definition", headers=k1, json={
        "name": "bad-webhook", "schedule": "* * * * *",
        "webhook_url": f"ftp://{flow.secrets['signature key 1']}@example.com/"})
    await call("POST", "/jobs/definition", headers=k1,
               json={"name": flow.secrets["env key 2"], "schedule": "61 * * * *"})
    await call("POST", f"/jobs/executions/complete/{run['id']}", headers=k1,
               json={"success": False})  # 409
    await call("POST", "/jobs/definition", headers=k1, content=b"{not json")
    await call("DELETE", "/apikeys/revoke/999999", headers=admin)
    assert len(flow.errors) >= 9
    return flow


@pytest.fixture
async def flow_app(tmp_path: Path) -> AsyncIterator[tuple[HApi, Path]]:
    db = tmp_path / "secrets.db"
    settings = Settings(database_url=f"sqlite:///{db}", admin_key=ADMIN_KEY,
                        allow_private_webhooks=True)
    async with running(settings, FakeClock(START)) as h:
        yield h, db


def _database_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


async def test_secrets_never_in_logs_or_error_bodies(
    flow_app: tuple[HApi, Path], receiver: _Receiver, debug_logs: io.StringIO
) -> None:
    h, _db = flow_app
    flow = await _flow(h, receiver)
    text = debug_logs.getvalue()
    assert "push.delivered" in text  # the capture really saw the server's DEBUG logs
    secrets = {**flow.secrets, "key pepper": h.svc.pepper}
    leaked = [name for name, s in secrets.items() if s in text]
    assert not leaked, f"in the DEBUG logs: {leaked}"
    for r in flow.errors:
        assert set(r.json()) == {"message"}, r.text
        found = [name for name, s in secrets.items() if s in r.text]
        assert not found, f"{r.request.method} {r.request.url.path} {r.status_code}: {found}"


async def test_issued_api_keys_are_not_in_the_database_file(
    flow_app: tuple[HApi, Path], receiver: _Receiver
) -> None:
    h, db = flow_app
    flow = await _flow(h, receiver)
    raw = _database_bytes(db)
    assert b"sdk-secret-test" in raw  # the scan does see the data
    for name, secret in flow.secrets.items():
        if name.startswith(("admin", "env key")):
            assert secret.encode() not in raw, f"{name} stored in clear"


async def test_webhook_signature_keys_are_sealed_in_the_database_file(
    flow_app: tuple[HApi, Path], receiver: _Receiver
) -> None:
    h, db = flow_app
    flow = await _flow(h, receiver)
    raw = _database_bytes(db)
    for name, secret in flow.secrets.items():
        if name.startswith("signature key"):
            assert secret.encode() not in raw, f"{name} stored in clear"
    with sqlite3.connect(db) as conn:
        stored = [r[0] for r in conn.execute("SELECT webhook_signature_key FROM environments")]
    assert len(stored) == 2 and all(s.startswith("v1:") and len(s) <= 128 for s in stored)
    # the pushes were signed with the unsealed keys: each verifies with its environment's key
    assert len(receiver.received) == 2
    sig_keys = [flow.secrets["signature key 1"], flow.secrets["signature key 2"]]
    for body, headers in receiver.received:
        ok = []
        for key in sig_keys:
            try:
                webhooks.verify(body, headers, key, tolerance=10**9)
                ok.append(key)
            except webhooks.WebhookVerificationError:
                pass
        assert len(ok) == 1, "a push signed with a sealed (or wrong) key"
