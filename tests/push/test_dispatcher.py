"""Push delivery end to end: a real HTTP receiver on loopback verifies both signatures with
its own HMAC code and answers 200, 500, 202-then-complete, a redirect, a huge body, or too
late (SPEC 2.4)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from schedo.server.push.dispatcher import Dispatcher
from tests.conftest import Api


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"allow_private_webhooks": True}


class Receiver:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.secret = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append({"path": self.path, "body": body, "headers": headers,
                                          "valid": receiver.verify(body, self.headers)})
                if self.path == "/ok":
                    self._answer(200, b"all done")
                elif self.path == "/fail":
                    self._answer(500, b"kaput: database locked")
                elif self.path == "/async":
                    self._answer(202, b"")
                elif self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("location", "/ok")
                    self.send_header("content-length", "0")
                    self.end_headers()
                elif self.path == "/slow":
                    time.sleep(3)
                    self._answer(200, b"too late")
                elif self.path == "/huge":
                    self.send_response(200)
                    self.send_header("content-length", str(20 * 1024 * 1024))
                    self.end_headers()
                    try:
                        for _ in range(320):
                            self.wfile.write(b"z" * 65536)
                    except (BrokenPipeError, ConnectionResetError):
                        pass

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def verify(self, body: bytes, headers: Any) -> bool:
        """Independent of schedo.webhooks: plain hmac over the documented inputs."""
        key = self.secret.encode()
        plain = hmac.new(key, body, hashlib.sha256).hexdigest()
        wid, ts = headers["webhook-id"], headers["webhook-timestamp"]
        std = base64.b64encode(hmac.new(key, f"{wid}.{ts}.".encode() + body,
                                        hashlib.sha256).digest()).decode()
        return (hmac.compare_digest(plain, headers["x-schedo-signature"])
                and f"v1,{std}" in headers["webhook-signature"].split(" "))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


async def _deliver(api: Api, receiver: Receiver, path: str, **opts: Any) -> dict[str, Any]:
    envs = (await api.client.get("/org/environments", headers=api.admin)).json()
    receiver.secret = envs[0]["webhook_signature_key"]
    job = await api.define(name=f"push{path.replace('/', '-')}",
                           webhook_url=receiver.url(path), **opts)
    assert job["type"] == "push"
    await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)
    d = Dispatcher(api.svc)
    try:
        tasks = await d.dispatch_once(api.clock.now())
        assert len(tasks) == 1
        await asyncio.wait_for(asyncio.gather(*tasks), 20)
    finally:
        await d.client.aclose()
    runs = (await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
    return {"job": job, "runs": runs}


async def test_200_completes_with_output_and_both_signatures_verify(
    api: Api, receiver: Receiver
) -> None:
    out = await _deliver(api, receiver, "/ok", metadata={"team": "data"})
    [req] = receiver.requests
    assert req["valid"] is True
    body = json.loads(req["body"])
    run = out["runs"][0]
    assert body == {"execution_id": run["id"], "job_id": out["job"]["id"],
                    "job_code": "push-ok", "scheduled_for": run["scheduled_for"],
                    "attempt": 1, "metadata": {"team": "data"}, "environment_id": 1}
    assert req["headers"]["content-type"] == "application/json"
    assert run["status"] == "completed" and run["output"] == "all done"


async def test_500_fails_with_status_and_excerpt(api: Api, receiver: Receiver) -> None:
    run = (await _deliver(api, receiver, "/fail"))["runs"][0]
    assert run["status"] == "failed"
    assert "HTTP 500" in run["error"] and "kaput" in run["error"]


async def test_202_leaves_running_until_the_receiver_completes(
    api: Api, receiver: Receiver
) -> None:
    run = (await _deliver(api, receiver, "/async"))["runs"][0]
    assert run["status"] == "running"
    r = await api.client.post(f"/jobs/executions/complete/{run['id']}",
                              json={"success": True, "output": "later"}, headers=api.admin)
    assert r.status_code == 200 and r.json()["status"] == "completed"


async def test_redirect_is_not_followed(api: Api, receiver: Receiver) -> None:
    run = (await _deliver(api, receiver, "/redirect"))["runs"][0]
    assert run["status"] == "failed" and "HTTP 302" in run["error"]
    assert [r["path"] for r in receiver.requests] == ["/redirect"]


async def test_timeout_fails_the_run(api: Api, receiver: Receiver) -> None:
    started = time.monotonic()
    run = (await _deliver(api, receiver, "/slow", timeout_seconds=1))["runs"][0]
    assert time.monotonic() - started < 2.9
    assert run["status"] == "failed" and "timeout" in run["error"]


async def test_huge_response_is_capped(api: Api, receiver: Receiver) -> None:
    run = (await _deliver(api, receiver, "/huge"))["runs"][0]
    assert run["status"] == "completed"
    assert 60_000 <= len(run["output"].encode()) <= 70 * 1024


async def test_retries_keep_the_same_webhook_id(api: Api, receiver: Receiver) -> None:
    out = await _deliver(api, receiver, "/fail", max_retries=1)
    api.clock.advance(13)  # past the first backoff (10 s + 20 %)
    d = Dispatcher(api.svc)
    try:
        tasks = await d.dispatch_once(api.clock.now())
        await asyncio.wait_for(asyncio.gather(*tasks), 20)
    finally:
        await d.client.aclose()
    assert len(receiver.requests) == 2
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1
    assert [json.loads(r["body"])["attempt"] for r in receiver.requests] == [1, 2]
    runs = (await api.client.get(f"/jobs/executions/{out['job']['id']}",
                                 headers=api.admin)).json()
    assert [(e["attempt"], e["status"]) for e in runs] == [(2, "failed"), (1, "failed")]


@pytest.mark.parametrize("settings_overrides", [{"allow_private_webhooks": False}])
async def test_private_targets_refused_at_definition(api: Api, receiver: Receiver) -> None:
    r = await api.client.post("/jobs/definition", headers=api.admin, json={
        "name": "to-loopback", "schedule": "* * * * *", "webhook_url": receiver.url("/ok")})
    assert r.status_code == 400 and "webhook_url" in r.json()["message"]


async def test_a_triggers_payload_is_in_the_push_body(api: Api, receiver: Receiver) -> None:
    envs = (await api.client.get("/org/environments", headers=api.admin)).json()
    receiver.secret = envs[0]["webhook_signature_key"]
    job = await api.define(name="push-payload", webhook_url=receiver.url("/ok"))
    r = await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin,
                              json={"payload": {"order": 7}})
    assert r.status_code == 200, r.text
    d = Dispatcher(api.svc)
    try:
        await asyncio.wait_for(asyncio.gather(*await d.dispatch_once(api.clock.now())), 20)
    finally:
        await d.client.aclose()
    [req] = receiver.requests
    assert req["valid"] is True and json.loads(req["body"])["payload"] == {"order": 7}
