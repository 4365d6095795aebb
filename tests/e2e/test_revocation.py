"""Revoking a key or deleting an environment reaches open worker streams and long polls,
live-output follow streams and cancel watches at once, in every server process, and nothing
more is claimed for them (issue 23, point 2).

Real ``schedo serve`` processes (httpx's in-process transport buffers streams): one server on
SQLite and PostgreSQL, and two servers sharing one PostgreSQL database where the stream is
open on one and the key is revoked through the other.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database
from tests.support.server import ServerProcess, wait_until


@pytest.fixture
def pg_db() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("needs SCHEDO_TEST_POSTGRES_URL")
    url = asyncio.run(_fresh_pg_database(PG_URL))
    yield url
    asyncio.run(_drop_pg_database(url))


STREAMS = ("sse", "follow")


class Listener(threading.Thread):
    """With an environment key, in a thread: an SSE stream (``sse``), a long poll (``poll``),
    the live-output follow stream of run ``run_id`` (``follow``) or a cancel watch over it
    (``watch``)."""

    def __init__(self, url: str, key: str, job: str, channel: str, run_id: int = 0) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.job, self.channel = url, key, job, channel
        self.run_id = run_id
        self.lines: list[str] = []
        self.status: int | None = None
        self.body = ""
        self.sent = threading.Event()  # the watch's request went out
        self.ended_at: float | None = None

    def _stream(self, path: str, headers: dict[str, str]) -> None:
        with httpx.stream("GET", f"{self.url}{path}", headers=headers, timeout=40) as r:
            self.status = r.status_code
            for line in r.iter_lines():
                self.lines.append(line)

    def run(self) -> None:
        headers = {"x-api-key": self.key, "x-schedo-worker-id": f"w-{self.channel}"}
        try:
            if self.channel == "sse":
                self._stream(f"/jobs/executions/sse?jobs={self.job}", headers)
            elif self.channel == "follow":
                self._stream(f"/jobs/executions/{self.run_id}/log?follow=1", headers)
            elif self.channel == "watch":
                hooks = {"request": [lambda _req: self.sent.set()]}
                with httpx.Client(timeout=40, event_hooks=hooks) as c:
                    r = c.post(f"{self.url}/jobs/executions/cancelled?wait=30",
                               json={"ids": [self.run_id]}, headers=headers)
                self.status, self.body = r.status_code, r.text
            else:
                r = httpx.get(f"{self.url}/jobs/executions?jobs={self.job}&wait=30",
                              headers=headers, timeout=40)
                self.status, self.body = r.status_code, r.text
        finally:
            self.ended_at = time.monotonic()


def _scenario(a: ServerProcess, b: ServerProcess, channel: str, how: str) -> None:
    """Listen on ``a``, revoke or delete through ``b``."""
    name = f"rev-{uuid.uuid4().hex[:6]}"
    with a.client() as admin:
        env_id = 1
        if how == "delete-environment":
            env_id = admin.post("/org/environments", json={"name": name}).json()["id"]
        made = admin.post("/apikeys", json={"environment_id": env_id, "name": name}).json()
        key = made["key"]
        job = admin.post("/jobs/definition", json={"name": name, "schedule": "0 0 1 1 *"},
                         headers={"x-api-key": key}).json()
        run_id = 0
        if channel in ("follow", "watch"):  # a run the key holds, running
            admin.post(f"/jobs/trigger/{job['id']}", headers={"x-api-key": key})
            [run] = httpx.get(f"{a.url}/jobs/executions?jobs={name}&wait=0",
                              headers={"x-api-key": key}).json()
            run_id = run["id"]
        listener = Listener(a.url, key, name, channel, run_id)
        listener.start()
        if channel in ("sse", "poll"):
            wait_until(lambda: admin.get(f"/jobs/{job['id']}/connections/count",
                                         headers={"x-api-key": key}).json() == 1,
                       15, what="the listener's connection")
        elif channel == "follow":
            wait_until(lambda: ": connected" in listener.lines, 15, what="the follow stream")
        else:
            # nothing tells from outside that the watch waits on the server (the in-process
            # tests, tests/api/test_live_access.py, see it); a revocation that reached the
            # server first is answered 401 too
            assert listener.sent.wait(15), "the watch was not sent"
    with b.client() as admin_b:
        acted = time.monotonic()
        if how == "revoke-key":
            r = admin_b.delete(f"/apikeys/revoke/{made['id']}")
        else:
            r = admin_b.delete(f"/org/environments/{env_id}")
        assert r.status_code == 200, r.text
        listener.join(15)
        assert not listener.is_alive(), f"the {channel} did not end"
        assert listener.ended_at is not None and listener.ended_at - acted < 5
        if channel in STREAMS:
            assert listener.status == 200
            assert "event: error" in listener.lines, listener.lines
            assert not any(line.startswith("id: ") for line in listener.lines)
            assert not any(line == "event: end" for line in listener.lines)
        else:
            assert listener.status == 401, listener.body
            assert "revoked" in listener.body
        if how == "revoke-key" and channel in ("sse", "poll"):
            # the job is still there: a run triggered now is claimed by no one with that key
            run = admin_b.post(f"/jobs/trigger/{job['id']}").json()
            again = httpx.get(f"{a.url}/jobs/executions?jobs={name}&wait=1",
                              headers={"x-api-key": key}, timeout=10)
            assert again.status_code == 401
            runs = admin_b.get(f"/jobs/executions/{job['id']}").json()
            assert [(e["id"], e["status"]) for e in runs] == [(run["id"], "pending")]


@pytest.mark.parametrize("how", ["revoke-key", "delete-environment"])
@pytest.mark.parametrize("channel", ["sse", "poll", "follow", "watch"])
def test_one_server(db_url: str, tmp_path: Path, channel: str, how: str) -> None:
    srv = ServerProcess(db_url, tmp_path).start()
    try:
        _scenario(srv, srv, channel, how)
    finally:
        srv.kill()


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["revoke-key", "delete-environment"])
@pytest.mark.parametrize("channel", ["sse", "poll", "follow", "watch"])
def test_across_server_processes(pg_db: str, tmp_path: Path, channel: str, how: str) -> None:
    a = ServerProcess(pg_db, tmp_path).start()
    b = ServerProcess(pg_db, tmp_path).start()
    try:
        _scenario(a, b, channel, how)
    finally:
        a.kill()
        b.kill()
