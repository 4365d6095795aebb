"""httpx's default transport, with its TLS context made only when an ``https://`` URL is
first requested.

``httpx.AsyncClient()`` builds a TLS context with the certifi bundle at once, even for a
worker that only ever talks to ``http://127.0.0.1:8000`` (~1.5 MB of a worker's memory, and
its start-up time). These transports hand ``http://`` requests to a transport whose TLS
context is an empty, unverifiable one that no plain connection ever uses, and create httpx's
own default transport (certifi, ``SSL_CERT_FILE``/``SSL_CERT_DIR``, exactly as before) for the
first ``https://`` request. Connection pooling, limits and errors are httpx's own.
"""

from __future__ import annotations

import ssl

import httpx


def _no_tls() -> ssl.SSLContext:
    """A context for the plain-HTTP transport: never used to connect (only https:// URLs
    need one, and they go to the other transport); it verifies everything, should it be."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class LazyTLSAsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.plain: httpx.AsyncHTTPTransport | None = None
        self.tls: httpx.AsyncHTTPTransport | None = None

    def _for(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        if url.scheme == "http":
            if self.plain is None:
                self.plain = httpx.AsyncHTTPTransport(verify=_no_tls())
            return self.plain
        if self.tls is None:
            self.tls = httpx.AsyncHTTPTransport()
        return self.tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._for(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        for t in (self.plain, self.tls):
            if t is not None:
                await t.aclose()


class LazyTLSTransport(httpx.BaseTransport):
    """The same for the synchronous ``Client``."""

    def __init__(self) -> None:
        self.plain: httpx.HTTPTransport | None = None
        self.tls: httpx.HTTPTransport | None = None

    def _for(self, url: httpx.URL) -> httpx.HTTPTransport:
        if url.scheme == "http":
            if self.plain is None:
                self.plain = httpx.HTTPTransport(verify=_no_tls())
            return self.plain
        if self.tls is None:
            self.tls = httpx.HTTPTransport()
        return self.tls

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._for(request.url).handle_request(request)

    def close(self) -> None:
        for t in (self.plain, self.tls):
            if t is not None:
                t.close()
