"""Idle and slow clients never take the server down (issue 24, points 3 and 6), against a
real ``schedo serve`` process whose descriptor limit is low (256, soft and hard): idle
connections, slow heads, slow or missing bodies, unparsable requests, and the soft
descriptor limit raised at start."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database
from tests.support.server import ServerProcess, wait_until

FD_LIMIT = 256


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return s


def _closed_by_server(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_more_idle_connections_than_descriptors_leave_healthz_up(tmp_path: Path) -> None:
    srv = ServerProcess(f"sqlite:///{tmp_path / 'c.db'}", tmp_path, fd_limit=FD_LIMIT).start()
    idle: list[socket.socket] = []
    try:
        for _ in range(FD_LIMIT + 150):  # more than the server could ever hold open
            try:
                idle.append(_connect(srv.port))
            except OSError:
                break
        assert len(idle) > FD_LIMIT, len(idle)
        # the server stays reachable while every idle connection is still open on our side
        r = wait_until(lambda: _healthz(srv), 10, interval=0.2, what="/healthz under flood")
        assert r == 200
        with srv.client() as c:
            assert c.get("/jobs").status_code == 200
        assert "connections.cap_reached" in srv.log()
        assert "connections.limits fd_limit=256 max_connections=192" in srv.log()
    finally:
        for s in idle:
            s.close()
        srv.kill()


def _healthz(srv: ServerProcess) -> int | None:
    try:
        return httpx.get(srv.url + "/healthz", timeout=2).status_code
    except httpx.HTTPError:
        return None


def test_slow_headers_are_cut_and_long_polls_and_streams_are_not(tmp_path: Path) -> None:
    srv = ServerProcess(f"sqlite:///{tmp_path / 's.db'}", tmp_path,
                        extra_env={"SCHEDO_HEADER_TIMEOUT_SECONDS": "1",
                                   "SCHEDO_KEEP_ALIVE_SECONDS": "1"}).start()
    slow: list[socket.socket] = []
    try:
        started = time.monotonic()
        for _ in range(20):  # slowloris: a request line, then a header byte now and then
            s = _connect(srv.port)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)

        def trickle_until_closed() -> bool:
            for s in slow:
                try:
                    s.sendall(b"X")
                except OSError:
                    pass
            return all(_closed_by_server(s) for s in slow)

        wait_until(trickle_until_closed, 10, interval=0.3, what="slow heads to be cut")
        assert time.monotonic() - started < 5
        with srv.client() as c:
            job = c.post("/jobs/definition", json={"name": "slow-poll",
                                                   "schedule": "0 0 1 1 *"}).json()
            # a long poll far longer than the header timeout answers normally
            t0 = time.monotonic()
            r = c.get("/jobs/executions?jobs=slow-poll&wait=3", timeout=10)
            assert r.status_code == 200 and r.json() == []
            assert time.monotonic() - t0 >= 2.5
        # a stream stays open past the header and keep-alive timeouts and gets its run
        got: list[dict] = []

        def trigger_later() -> None:
            time.sleep(2.5)
            with srv.client() as c2:
                c2.post(f"/jobs/trigger/{job['id']}")

        t = threading.Thread(target=trigger_later)
        t.start()
        with httpx.stream("GET", srv.url + "/jobs/executions/sse?jobs=slow-poll",
                          headers=srv.headers, timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    got.append(json.loads(line[6:]))
                    break
        t.join()
        assert [e["job_code"] for e in got] == ["slow-poll"]
    finally:
        for s in slow:
            s.close()
        srv.kill()


def test_an_unparsable_request_gets_the_json_error_body(tmp_path: Path) -> None:
    srv = ServerProcess(f"sqlite:///{tmp_path / 'd.db'}", tmp_path).start()
    try:
        s = _connect(srv.port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x7fb\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), data
        assert b"content-type: application/json" in head.lower()
        assert json.loads(body)["message"].startswith("request:")
    finally:
        srv.kill()


def _answer(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    s.settimeout(20)
    data = b""
    while True:
        try:
            chunk = s.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _assert_408(data: bytes) -> None:
    status, _, rest = data.partition(b"\r\n")
    assert status == b"HTTP/1.1 408 Request Timeout", data
    head, _, payload = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    assert "SCHEDO_BODY_TIMEOUT_SECONDS" in json.loads(payload)["message"]


def test_slow_or_missing_bodies_get_a_json_408_and_store_nothing(tmp_path: Path) -> None:
    srv = ServerProcess(f"sqlite:///{tmp_path / 'b.db'}", tmp_path,
                        extra_env={"SCHEDO_BODY_TIMEOUT_SECONDS": "1"}).start()
    body = json.dumps({"name": "never-stored", "schedule": "*/5 * * * *"}).encode()
    head = (f"POST /jobs/definition HTTP/1.1\r\nHost: x\r\nx-api-key: {srv.admin_key}\r\n"
            "content-type: application/json\r\n").encode()
    try:
        never = _connect(srv.port)  # a body announced and never sent
        never.sendall(head + f"content-length: {len(body)}\r\n\r\n".encode())
        half = _connect(srv.port)  # half a body, then nothing
        half.sendall(head + f"content-length: {len(body)}\r\n\r\n".encode() + body[:10])
        chunked = _connect(srv.port)  # a chunked body that never ends
        chunked.sendall(head + b"transfer-encoding: chunked\r\n\r\n5\r\n{\"nam\r\n")
        trickled = _connect(srv.port)  # a byte now and then: each read is quick, the body never
        trickled.sendall(head + f"content-length: {len(body)}\r\n\r\n".encode())
        sent = 0

        def trickle() -> bool:
            nonlocal sent
            if select.select([trickled], [], [], 0)[0]:
                return True  # the server answered (or closed)
            trickled.sendall(body[sent:sent + 1])
            sent += 1
            return sent >= len(body) - 1

        for s in (never, half, chunked):
            _assert_408(_answer(s))
            s.close()
        wait_until(trickle, 30, interval=0.2, what="the trickled body to be cut")
        assert sent < len(body) - 1, "the trickled body was never cut"
        _assert_408(_answer(trickled))
        trickled.close()
        with srv.client() as c:  # nothing half-stored, and the server serves on
            assert c.get("/jobs").json() == []
            assert c.post("/jobs/definition", content=body,
                          headers={"content-type": "application/json"}).status_code == 200
        assert "Traceback" not in srv.log()
        assert "body_timeout=1s" in srv.log()
    finally:
        srv.kill()


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one_at_start(tmp_path: Path) -> None:
    srv = ServerProcess(f"sqlite:///{tmp_path / 'f.db'}", tmp_path,
                        fd_limit=(FD_LIMIT, 4 * FD_LIMIT)).start()
    try:
        assert srv.proc is not None
        limits = Path(f"/proc/{srv.proc.pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
        assert line.split()[3:5] == [str(4 * FD_LIMIT)] * 2, line
        assert f"connections.limits fd_limit={4 * FD_LIMIT} max_connections={4 * FD_LIMIT - 64}" \
            in srv.log()
    finally:
        srv.kill()


@pytest.fixture(params=["sqlite", "postgresql"])
def served_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'h.db'}"
        return
    if not PG_URL:
        pytest.skip("needs SCHEDO_TEST_POSTGRES_URL")
    url = asyncio.run(_fresh_pg_database(PG_URL))
    yield url
    asyncio.run(_drop_pg_database(url))


HOSTILE_KEYS = [b"sk_\x00abcdefghijklmnop", b"sk_\x01abcdefghijklmnop", b"sk_\x7fabcdefghijklmnop",
                b"sk_\xff\xfeabcdefghijklmnop", b"sk_\xed\xa0\x80abcdefghijklmn", b"\t" * 20,
                b"x" * 5000]


def test_hostile_bytes_in_the_api_key_header_are_4xx_with_the_json_body(
    served_db: str, tmp_path: Path
) -> None:
    """Every byte a client can put in ``x-api-key`` (or ``X-API-ENVIRONMENT``) over a real
    socket: the parser's JSON 400, or a 401/400 from the app, never a 5xx (on PostgreSQL a
    NUL or a control character used to reach the database: 503)."""
    srv = ServerProcess(served_db, tmp_path).start()
    try:
        for name, values in ((b"x-api-key", HOSTILE_KEYS),
                             (b"X-API-ENVIRONMENT", [b"1\x00", b"2147483648", b"\xc2\xb2",
                                                     b"-1", b"9223372036854775808"])):
            for value in values:
                key = b"" if name == b"x-api-key" else f"x-api-key: {srv.admin_key}\r\n".encode()
                s = _connect(srv.port)
                s.sendall(b"GET /jobs HTTP/1.1\r\nHost: x\r\nconnection: close\r\n" + key
                          + name + b": " + value + b"\r\n\r\n")
                data = _answer(s)
                s.close()
                status = int(data.split(b" ", 2)[1])
                head, _, body = data.partition(b"\r\n\r\n")
                assert status in (400, 401, 404), (name, value, data[:300])
                assert b"content-type: application/json" in head.lower(), data[:300]
                assert json.loads(body)["message"], data[:300]
        assert _healthz(srv) == 200
    finally:
        srv.kill()
