"""The one outbound HTTP client for user URLs (push webhooks), SPEC 2.4 and 5.

Every request to a user-supplied URL goes through ``OutboundClient.post``:

* the URL is checked first (``addresses.check_url``: scheme, credentials, literal addresses);
* host names are resolved here, by ``GuardedBackend`` (an ``httpcore.AsyncNetworkBackend``
  installed as the connection pool's network backend). **Every** resolved address is judged by
  ``addresses.check_ip`` and the socket is opened to the checked address itself, so there is no
  second DNS lookup a rebinding attacker could answer differently. TLS still runs against the
  host name (SNI and certificate verification use the name from the URL, as httpcore passes
  ``server_hostname=<host>`` to ``start_tls`` on the stream we return);
* redirects are never followed, no cookies are kept, proxies and other environment settings
  are ignored (``trust_env=False``), the user agent is fixed;
* a connect timeout (default 5 s) and a total deadline per request (the caller's ``timeout``,
  covering connect, upload and the body read);
* the response body is streamed and capped: ``max_body`` bytes are kept, the rest is never
  read (the connection is closed instead);
* at most ``max_in_flight`` requests run at once; waiting for a slot does not count against
  the request's timeout.

``post`` never raises for network trouble: it returns a ``DeliveryResult`` whose ``error``
says what went wrong ("refused: ...", "timeout after 30s", "connection failed: ...",
"TLS error: ...").
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Any, Self

import anyio
import httpcore
import httpx
from httpcore import AsyncNetworkStream

from ..domain.addresses import AddressRefused, IPAddress, check_ip, check_url

USER_AGENT = "Schedo-Webhooks/0.1"
DEFAULT_MAX_BODY = 64 * 1024
# Headers the caller may not set: the client owns framing, routing and identity.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
        "user-agent",
        "accept-encoding",
        "cookie",
    }
)

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of one POST: an HTTP answer (``error`` None) or why there was none."""

    status: int | None
    body: bytes
    truncated: bool
    error: str | None
    duration_ms: int


async def resolve(host: str, port: int) -> list[IPAddress]:
    """All addresses ``host`` resolves to (the system resolver, through asyncio)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    found: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(sockaddr[0])
        if isinstance(ip, ipaddress.IPv6Address) and len(sockaddr) >= 4 and sockaddr[3]:
            ip = ipaddress.IPv6Address(f"{ipaddress.IPv6Address(int(ip))}%{sockaddr[3]}")
        if ip not in found:
            found.append(ip)
    return found


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that resolves names itself and connects only to allowed addresses.

    Wraps another backend (httpcore's anyio backend by default) and hands it IP literals only.
    """

    def __init__(
        self,
        allow_private: bool,
        *,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.allow_private = allow_private
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()
        self._resolver = resolver

    async def addresses(self, host: str, port: int, limit: float | None) -> list[IPAddress]:
        """The checked addresses of ``host``; raises ``AddressRefused`` if any is refused.

        ``limit`` bounds the resolution (seconds, None for no bound).
        """
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            found: list[IPAddress] = [literal]
        else:
            try:
                with anyio.fail_after(limit):
                    found = list(await self._resolver(host, port))
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
            except (OSError, UnicodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                raise httpcore.ConnectError(f"cannot resolve {host}: {reason}") from exc
            if not found:
                raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        for ip in found:  # all of them, before connecting to any
            check_ip(ip, allow_private=self.allow_private, host=host)
        return found

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        options = list(socket_options) if socket_options is not None else None
        failures: list[str] = []
        timeouts = 0
        for ip in await self.addresses(host, port, timeout):
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=options,
                )
            except httpcore.ConnectTimeout:
                timeouts += 1
                failures.append(f"{ip} port {port}: timed out")
            except httpcore.ConnectError as exc:
                failures.append(f"{ip} port {port}: {_os_reason(exc)}")
        if timeouts == len(failures):
            raise httpcore.ConnectTimeout("; ".join(failures))
        raise httpcore.ConnectError("; ".join(failures))

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        raise AddressRefused("webhook_url cannot target a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connection pool uses a ``GuardedBackend``.

    httpx 0.28 has no public way to pass a network backend, so the pool the parent built is
    replaced by an identical ``httpcore.AsyncConnectionPool`` with ``network_backend`` set. If
    a future httpx stops keeping its pool in ``_pool`` this fails loudly instead of silently
    running unguarded.
    """

    def __init__(
        self,
        backend: GuardedBackend,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
    ) -> None:
        ssl_context = httpx.create_ssl_context(verify=verify)  # honours SSL_CERT_FILE/DIR
        super().__init__(verify=ssl_context, trust_env=False, http1=True, http2=False)
        if type(getattr(self, "_pool", None)) is not httpcore.AsyncConnectionPool:
            raise RuntimeError("unsupported httpx version: cannot install the address guard")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=min(max_connections, 20),
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )


def _no_cookies() -> CookieJar:
    """A jar that accepts and returns nothing (httpx copies ``Cookies``, so pass the jar)."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class OutboundClient:
    """POSTs to user URLs under the address guard (see the module docstring)."""

    def __init__(
        self,
        allow_private: bool,
        *,
        connect_timeout: float = 5.0,
        max_body: int = DEFAULT_MAX_BODY,
        max_in_flight: int = 100,
        verify: ssl.SSLContext | bool = True,
        resolver: Resolver = resolve,
    ) -> None:
        if connect_timeout <= 0 or max_body < 0 or max_in_flight < 1:
            raise ValueError("connect_timeout > 0, max_body >= 0 and max_in_flight >= 1 needed")
        self.allow_private = allow_private
        self.connect_timeout = connect_timeout
        self.max_body = max_body
        self.max_in_flight = max_in_flight
        self._slots = asyncio.Semaphore(max_in_flight)
        self._closed = False
        backend = GuardedBackend(allow_private, resolver=resolver)
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(backend, verify=verify, max_connections=max_in_flight),
            follow_redirects=False,
            trust_env=False,
            cookies=_no_cookies(),
            headers={"user-agent": USER_AGENT, "accept-encoding": "identity"},
            timeout=httpx.Timeout(None, connect=connect_timeout),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        await self._client.aclose()

    async def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,  # noqa: ASYNC109 (a per-request total deadline, enforced here)
    ) -> DeliveryResult:
        """POST ``body`` to ``url``; never raises for network problems."""
        if self._closed:
            raise RuntimeError("OutboundClient is closed")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        try:
            check_url(url, allow_private=self.allow_private)
        except AddressRefused as exc:
            return DeliveryResult(None, b"", False, f"refused: {exc}", 0)
        sent = {k: v for k, v in headers.items() if k.lower() not in _RESERVED_HEADERS}
        async with self._slots:
            return await self._post(url, body, sent, timeout)

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], limit: float
    ) -> DeliveryResult:
        started = time.monotonic()
        status: int | None = None
        kept = bytearray()
        truncated = False
        error: str | None = None
        connect_limit = min(self.connect_timeout, limit)
        request_timeout = httpx.Timeout(limit, connect=connect_limit)
        try:
            with anyio.fail_after(limit):
                request = self._client.build_request(
                    "POST", url, content=body, headers=headers, timeout=request_timeout
                )
                response = await self._client.send(request, stream=True)
                try:
                    status = response.status_code
                    truncated = await self._read_capped(response, kept)
                finally:
                    await response.aclose()
        except AddressRefused as exc:
            error = f"refused: {exc}"
        except TimeoutError:
            error = f"timeout after {limit:g}s"
        except httpx.ConnectTimeout:
            error = f"connection failed: no connection within {connect_limit:g}s"
        except httpx.TimeoutException:
            error = f"timeout after {limit:g}s"
        except httpx.UnsupportedProtocol as exc:
            error = f"refused: {exc}"
        except httpx.TransportError as exc:
            error = _describe_transport_error(exc)
        except httpx.InvalidURL as exc:
            error = f"refused: webhook_url is not a valid URL: {exc}"
        duration_ms = int((time.monotonic() - started) * 1000)
        if error is not None and status is not None:
            error += f" while reading the response body (HTTP {status})"
            status = None
        return DeliveryResult(status, bytes(kept), truncated, error, duration_ms)

    async def _read_capped(self, response: httpx.Response, kept: bytearray) -> bool:
        """Read at most ``max_body`` bytes into ``kept``; True if the body was longer."""
        chunks = response.aiter_raw()
        try:
            async for chunk in chunks:
                room = self.max_body - len(kept)
                if len(chunk) > room:
                    kept += chunk[:room]
                    return True
                kept += chunk
            return False
        finally:
            close = getattr(chunks, "aclose", None)  # an async generator: stop it now
            if close is not None:
                await close()


def _os_reason(exc: BaseException) -> str:
    """The operating system's word for a failed connect ("Connection refused"), if any."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None:
            return os.strerror(cause.errno)
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def _describe_transport_error(exc: httpx.TransportError) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS error: {cause.verify_message or cause.reason or cause}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause.reason or cause}"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ProtocolError):
        return f"invalid HTTP answer: {exc or type(exc).__name__}"
    return f"connection failed: {exc or type(exc).__name__}"
