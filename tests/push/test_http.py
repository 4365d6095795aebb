"""The outbound client against real HTTP servers on loopback.

Only 127.0.0.1 is ever connected to. Names used here (``*.schedo.test``) resolve through a
fake resolver to 127.0.0.1; public addresses appear only with a recording fake backend that
never opens a socket.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import time
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import pytest

from schedo.server.domain.addresses import AddressRefused, IPAddress
from schedo.server.push import http as push_http
from schedo.server.push.http import (
    USER_AGENT,
    DeliveryResult,
    GuardedBackend,
    GuardedTransport,
    OutboundClient,
)

HUGE = 50 * 1024 * 1024
CHUNK = b"x" * 65536
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A tiny HTTP/1.1 server on 127.0.0.1 that records what reaches it."""

    tls: ssl.SSLContext | None = None
    port: int = 0
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    huge_sent: int = 0
    huge_finished: bool = False
    sni: list[str | None] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [urlsplit(r.path).path for r in self.requests]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            first, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = first.split(" ", 2)
            headers = {}
            for line in lines:
                if line:
                    key, value = line.split(":", 1)
                    headers[key.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Request(method, target, headers, body))
            await self._route(target, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _route(self, target: str, writer: asyncio.StreamWriter) -> None:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        if path == "/ok":
            await send(writer, 200, b"hello")
        elif path == "/status":
            await send(writer, int(query["code"]), query.get("body", "").encode())
        elif path == "/redirect":
            await send(writer, 302, b"moved", {"location": "/target"})
        elif path == "/cookie":
            await send(writer, 200, b"set", {"set-cookie": "session=abc; Path=/"})
        elif path == "/slow":
            await asyncio.sleep(float(query["s"]))
            await send(writer, 200, b"late")
        elif path == "/slowbody":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
            await writer.drain()
            await asyncio.sleep(float(query["s"]))
        elif path == "/concurrent":
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            try:
                await asyncio.sleep(float(query["s"]))
            finally:
                self.active -= 1
            await send(writer, 200, b"done")
        elif path == "/huge":
            writer.write(f"HTTP/1.1 200 OK\r\ncontent-length: {HUGE}\r\n\r\n".encode())
            while self.huge_sent < HUGE:
                writer.write(CHUNK)
                await writer.drain()
                self.huge_sent += len(CHUNK)
            self.huge_finished = True
        else:
            await send(writer, 404, b"no such path")


async def send(
    writer: asyncio.StreamWriter, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    lines = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}", "connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    await srv.start()
    yield srv
    await srv.stop()


def to_loopback(*names: str) -> push_http.Resolver:
    """A resolver that maps ``names`` to 127.0.0.1 and knows nothing else."""

    async def resolver(host: str, port: int) -> Sequence[IPAddress]:
        if host in names:
            return [LOOPBACK]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    return resolver


async def post(client: OutboundClient, url: str, limit: float = 5.0) -> DeliveryResult:
    return await client.post(url, b'{"n":1}', {"content-type": "application/json"}, limit)


# ------------------------------------------------------------------ the guard at connect time


async def test_loopback_literal_refused_before_any_connection(server: Server) -> None:
    async with OutboundClient(allow_private=False) as client:
        res = await post(client, server.url("/ok"))
    assert res.status is None and res.error is not None
    assert res.error.startswith("refused: webhook_url points to a loopback address")
    assert server.connections == 0 and server.requests == []


async def test_connect_time_check_alone_refuses_loopback(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the definition-time check switched off, the network backend still refuses."""
    monkeypatch.setattr(push_http, "check_url", lambda url, *, allow_private: None)
    async with OutboundClient(allow_private=False) as client:
        literal = await post(client, server.url("/ok"))
        name = await post(client, server.url("/ok", host="localhost"))
    assert literal.error is not None and literal.error.startswith("refused: ")
    assert "loopback address (127.0.0.1)" in literal.error
    assert name.error is not None and name.error.startswith("refused: ")
    assert "'localhost' resolves to a loopback address" in name.error
    assert server.connections == 0


async def test_localhost_refused(server: Server) -> None:
    async with OutboundClient(allow_private=False) as client:
        res = await post(client, server.url("/ok", host="localhost"))
    assert res.error is not None and res.error.startswith("refused: ")
    assert server.connections == 0


async def test_name_resolving_to_loopback_refused_at_connect_time(server: Server) -> None:
    """A name that passes at definition but resolves to loopback (DNS rebinding)."""
    resolver = to_loopback("rebind.schedo.test")
    async with OutboundClient(allow_private=False, resolver=resolver) as client:
        res = await post(client, server.url("/ok", host="rebind.schedo.test"))
    assert res.status is None
    assert res.error == (
        "refused: webhook_url host 'rebind.schedo.test' resolves to a loopback address "
        "(127.0.0.1); private targets need SCHEDO_ALLOW_PRIVATE_WEBHOOKS=1"
    )
    assert server.connections == 0


async def test_connects_to_the_checked_address_without_a_second_lookup(server: Server) -> None:
    """``hook.schedo.test`` exists only in our resolver: reaching the server proves the socket
    went to the address we checked, while the request still names the host."""
    resolver = to_loopback("hook.schedo.test")
    async with OutboundClient(allow_private=True, resolver=resolver) as client:
        res = await post(client, server.url("/ok", host="hook.schedo.test"))
    assert (res.status, res.body, res.error) == (200, b"hello", None)
    assert server.requests[0].headers["host"] == f"hook.schedo.test:{server.port}"


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Never opens a socket: records where it was asked to connect."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((host, port))
        raise httpcore.ConnectError("recording backend: no sockets here")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_every_resolved_address_is_checked_before_connecting() -> None:
    async def mixed(host: str, port: int) -> Sequence[IPAddress]:
        return [ipaddress.ip_address("93.184.215.14"), LOOPBACK]

    inner = RecordingBackend()
    backend = GuardedBackend(False, inner=inner, resolver=mixed)
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.1"):
        await backend.connect_tcp("mixed.schedo.test", 443, timeout=1.0)
    assert inner.calls == []


async def test_backend_hands_the_inner_backend_ip_literals_only() -> None:
    async def two(host: str, port: int) -> Sequence[IPAddress]:
        return [ipaddress.ip_address("10.0.0.7"), ipaddress.ip_address("fd00::7")]

    inner = RecordingBackend()
    backend = GuardedBackend(True, inner=inner, resolver=two)
    with pytest.raises(httpcore.ConnectError) as info:  # each address tried in turn
        await backend.connect_tcp("intranet.schedo.test", 8080, timeout=1.0)
    assert "10.0.0.7 port 8080" in str(info.value) and "fd00::7 port 8080" in str(info.value)
    assert inner.calls == [("10.0.0.7", 8080), ("fd00::7", 8080)]


async def test_metadata_refused_at_connect_time_even_with_private_allowed() -> None:
    async def metadata(host: str, port: int) -> Sequence[IPAddress]:
        return [ipaddress.ip_address("169.254.169.254")]

    inner = RecordingBackend()
    backend = GuardedBackend(True, inner=inner, resolver=metadata)
    with pytest.raises(AddressRefused, match="metadata"):
        await backend.connect_tcp("innocent.schedo.test", 80, timeout=1.0)
    with pytest.raises(AddressRefused, match="unix socket"):
        await backend.connect_unix_socket("/var/run/docker.sock")
    assert inner.calls == []


def test_the_transport_really_uses_the_guarded_backend() -> None:
    backend = GuardedBackend(False)
    transport = GuardedTransport(backend)
    assert transport._pool._network_backend is backend


async def test_unresolvable_name_is_a_connection_failure() -> None:
    async with OutboundClient(allow_private=True, resolver=to_loopback()) as client:
        res = await post(client, "http://nowhere.schedo.test/hook")
    assert res.error is not None
    assert res.error.startswith("connection failed: cannot resolve nowhere.schedo.test")


# ------------------------------------------------------------------ answers


async def test_ok_answer(server: Server) -> None:
    async with OutboundClient(allow_private=True) as client:
        res = await client.post(
            server.url("/ok"),
            b'{"a":1}',
            {
                "content-type": "application/json",
                "x-schedo-signature": "abc",
                "user-agent": "spoofed",
                "host": "evil.example",
            },
            5.0,
        )
    assert res == DeliveryResult(200, b"hello", False, None, res.duration_ms)
    assert 0 <= res.duration_ms < 5000
    req = server.requests[0]
    assert (req.method, req.path, req.body) == ("POST", "/ok", b'{"a":1}')
    assert req.headers["user-agent"] == USER_AGENT
    assert req.headers["x-schedo-signature"] == "abc"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["host"] == f"127.0.0.1:{server.port}"


async def test_error_statuses_are_answers(server: Server) -> None:
    async with OutboundClient(allow_private=True) as client:
        res = await post(client, server.url("/status?code=500&body=boom"))
        accepted = await post(client, server.url("/status?code=202"))
    assert (res.status, res.body, res.error) == (500, b"boom", None)
    assert (accepted.status, accepted.body, accepted.error) == (202, b"", None)


async def test_redirects_are_not_followed(server: Server) -> None:
    async with OutboundClient(allow_private=True) as client:
        res = await post(client, server.url("/redirect"))
    assert (res.status, res.body, res.error) == (302, b"moved", None)
    await asyncio.sleep(0.1)
    assert server.paths() == ["/redirect"]


async def test_no_cookies_are_kept(server: Server) -> None:
    async with OutboundClient(allow_private=True) as client:
        first = await post(client, server.url("/cookie"))
        second = await post(client, server.url("/ok"))
    assert first.status == 200 and second.status == 200
    assert "cookie" not in server.requests[1].headers


async def test_body_cap_exact_and_over(server: Server) -> None:
    async with OutboundClient(allow_private=True, max_body=5) as client:
        exact = await post(client, server.url("/ok"))
    async with OutboundClient(allow_private=True, max_body=4) as client:
        over = await post(client, server.url("/ok"))
    assert (exact.body, exact.truncated) == (b"hello", False)
    assert (over.status, over.body, over.truncated, over.error) == (200, b"hell", True, None)


async def test_huge_body_is_capped_without_reading_it(server: Server) -> None:
    async with OutboundClient(allow_private=True) as client:
        tracemalloc.start()
        try:
            started = time.monotonic()
            res = await post(client, server.url("/huge"), limit=30.0)
            elapsed = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert (res.status, res.error, res.truncated) == (200, None, True)
    assert res.body == CHUNK[: len(res.body)] and len(res.body) == 65536
    assert elapsed < 3.0
    assert peak < 5 * 1024 * 1024, peak
    await asyncio.sleep(0.2)  # let the server notice the closed connection
    assert not server.huge_finished
    assert server.huge_sent < HUGE // 2


# ------------------------------------------------------------------ failures


async def test_timeout(server: Server) -> None:
    async with OutboundClient(allow_private=True) as client:
        started = time.monotonic()
        res = await post(client, server.url("/slow?s=10"), limit=1.0)
        elapsed = time.monotonic() - started
    assert res.status is None and res.body == b""
    assert res.error == "timeout after 1s"
    assert 0.9 <= elapsed < 2.0
    assert 900 <= res.duration_ms < 2000


async def test_timeout_while_reading_the_body(server: Server) -> None:
    async with OutboundClient(allow_private=True) as client:
        started = time.monotonic()
        res = await post(client, server.url("/slowbody?s=10"), limit=1.0)
        elapsed = time.monotonic() - started
    assert res.status is None
    assert res.error == "timeout after 1s while reading the response body (HTTP 200)"
    assert res.body == b"partial"
    assert elapsed < 2.0


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with OutboundClient(allow_private=True) as client:
        res = await post(client, f"http://127.0.0.1:{port}/hook")
    assert res.status is None and res.body == b""
    assert res.error is not None
    assert res.error.startswith(f"connection failed: 127.0.0.1 port {port}: "), res.error
    assert "refused" in res.error.lower()


async def test_in_flight_bound(server: Server) -> None:
    async with OutboundClient(allow_private=True, max_in_flight=2) as client:
        started = time.monotonic()
        results = await asyncio.gather(
            *(post(client, server.url(f"/concurrent?s=0.3&i={i}")) for i in range(6))
        )
        elapsed = time.monotonic() - started
    assert [r.status for r in results] == [200] * 6
    assert server.max_active == 2
    assert elapsed >= 0.85  # three waves of two
    assert all(r.duration_ms < 1000 for r in results)  # queueing is not counted


async def test_programming_errors_raise(server: Server) -> None:
    client = OutboundClient(allow_private=True)
    with pytest.raises(ValueError):
        await client.post(server.url("/ok"), b"", {}, 0)
    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.post(server.url("/ok"), b"", {}, 1.0)
    with pytest.raises(ValueError):
        OutboundClient(allow_private=True, max_in_flight=0)


# ------------------------------------------------------------------ TLS


def _certificate(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for ``name`` (PEM cert, PEM key)."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
async def tls_server(tmp_path: Any) -> AsyncIterator[tuple[Server, ssl.SSLContext]]:
    cert_pem, key_pem = _certificate("hook.schedo.test")
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    srv = Server(tls=server_ctx)

    def remember_sni(sock: Any, name: str | None, ctx: ssl.SSLContext) -> None:
        srv.sni.append(name)

    server_ctx.sni_callback = remember_sni
    await srv.start()
    client_ctx = ssl.create_default_context(cadata=cert_pem.decode())
    yield srv, client_ctx
    await srv.stop()


async def test_tls_verifies_the_host_name_while_connecting_to_the_checked_ip(
    tls_server: tuple[Server, ssl.SSLContext],
) -> None:
    srv, trust = tls_server
    resolver = to_loopback("hook.schedo.test", "other.schedo.test")
    async with OutboundClient(allow_private=True, verify=trust, resolver=resolver) as client:
        good = await post(client, srv.url("/ok", host="hook.schedo.test"))
        wrong = await post(client, srv.url("/ok", host="other.schedo.test"))
    assert (good.status, good.body, good.error) == (200, b"hello", None)
    assert srv.sni[0] == "hook.schedo.test"
    assert wrong.status is None
    assert wrong.error is not None and wrong.error.startswith("TLS error: "), wrong.error
    assert "other.schedo.test" in wrong.error  # "Hostname mismatch, ... 'other.schedo.test'"
    assert len(srv.requests) == 1


async def test_untrusted_certificate_is_a_tls_error(
    tls_server: tuple[Server, ssl.SSLContext],
) -> None:
    srv, _ = tls_server
    resolver = to_loopback("hook.schedo.test")
    async with OutboundClient(allow_private=True, resolver=resolver) as client:
        res = await post(client, srv.url("/ok", host="hook.schedo.test"))
    assert res.error is not None and res.error.startswith("TLS error: "), res.error
    assert srv.requests == []
