"""How the clients use httpx: TLS set up only for ``https://`` (sdk/lazy_tls.py: a worker of
an ``http://`` server never builds the certifi context, and ``https://`` is still verified as
httpx's default transport verifies it: a self-signed certificate is refused), and the URL of
a pull built once (``AsyncClient._url_with``)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

import schedo
from schedo import ConnectionFailed
from schedo.sdk.async_client import URL_CACHE_SIZE, AsyncClient
from schedo.sdk.lazy_tls import LazyTLSAsyncTransport, LazyTLSTransport
from tests.support.server import ADMIN_KEY, ServerProcess


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"id": 1, "name": "org", "created_at": "2026-01-01T00:00:00Z"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def self_signed_https(tmp_path: Path) -> Iterator[str]:
    """A real HTTPS server on loopback with a self-signed certificate."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    httpd = HTTPServer(("127.0.0.1", 0), _Ok)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_client_of_an_http_server_builds_no_tls_context(server: ServerProcess) -> None:
    with schedo.Client(ADMIN_KEY, server.url) as c:
        assert c.list_jobs() is not None
        transport = c._http._transport
        assert isinstance(transport, LazyTLSTransport)
        assert transport.plain is not None and transport.tls is None


def test_the_async_client_of_an_http_server_builds_no_tls_context(server: ServerProcess) -> None:
    async def go() -> LazyTLSAsyncTransport:
        async with AsyncClient(ADMIN_KEY, server.url) as c:
            assert await c.list_jobs() is not None
            transport = c._http._transport
            assert isinstance(transport, LazyTLSAsyncTransport)
            return transport

    transport = asyncio.run(go())
    assert transport.plain is not None and transport.tls is None


def test_https_is_verified_as_before(self_signed_https: str) -> None:
    with schedo.Client(ADMIN_KEY, self_signed_https) as c:
        with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
            c.get_org()
        transport = c._http._transport
        assert isinstance(transport, LazyTLSTransport)
        assert transport.tls is not None and transport.plain is None


def test_https_is_verified_as_before_async(self_signed_https: str) -> None:
    async def go() -> None:
        async with AsyncClient(ADMIN_KEY, self_signed_https) as c:
            with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
                await c.get_org()

    asyncio.run(go())


def test_a_pull_url_is_built_once_and_reaches_the_server_as_httpx_builds_it(
    server: ServerProcess, name: str
) -> None:
    """The async client keeps the absolute URL of a pull (its ~30 KB query of job codes is
    encoded and parsed once): the server gets the same URL httpx would build, under a base
    URL with a path too, and the kept URLs stay few."""
    base = f"{server.url}/api"
    codes = [name, f"{name}-é", *(f"{name}-{i}" for i in range(20))]

    async def go() -> None:
        async with AsyncClient(ADMIN_KEY, base) as c:
            job = await c.define_job(name, "0 0 1 1 *")
            run = await c.trigger_job(job.id)
            got = await c.pull_executions(codes, wait=0, limit=5, worker_id="w1")
            assert [e.id for e in got] == [run.id]
            assert await c.pull_executions(codes, wait=0, limit=5, worker_id="w1") == []
            assert len(c._urls) == 1
            [url] = c._urls.values()
            params = {"jobs": ",".join(codes), "wait": 0, "limit": 5}
            with httpx.Client(base_url=base) as plain:
                assert url == plain.build_request("GET", "/jobs/executions", params=params).url
            for limit in range(1, 60):
                await c.pull_executions(codes, wait=0, limit=limit)
            assert len(c._urls) == URL_CACHE_SIZE

    asyncio.run(go())
