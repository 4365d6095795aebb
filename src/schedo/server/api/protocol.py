"""The HTTP connection protocol of ``schedo serve``: uvicorn's httptools protocol, guarded
against idle and slow clients (issue 24, point 3).

uvicorn times out a keep-alive connection between requests (``timeout_keep_alive``), but a
connection that never sends a complete request head is held for ever: a thousand idle TCP
connections, or slowloris clients trickling header bytes, use up the process's file
descriptors and the server refuses everyone, ``/healthz`` included. This protocol adds:

- a header timeout: a request head (request line and headers) must arrive within
  ``header_timeout`` seconds of the connection (or of the first byte of the next request on
  a kept-alive one); otherwise the connection is closed;
- a body timeout: once the head is in, the whole body must arrive within ``body_timeout``
  seconds (a body trickled byte by byte, or announced and never sent, would hold the
  connection, and the app's task, for ever); otherwise ``408`` with the JSON error body if
  no response has started, and the connection is closed;
- a connection cap below the descriptor limit: at the cap, a new connection evicts the
  connection that has waited longest without an active request (idle or still sending its
  head); when every connection has an active request (long polls, streams), the newcomer is
  closed. One log line (``connections.cap_reached``) per 10 s says so;
- JSON for uvicorn's own 400 (a request it cannot parse, e.g. a DEL byte in a header), like
  every other error of the API.

Long polls and streams are untouched: their head is complete, so neither the header timeout
nor eviction applies to them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("schedo.http")
RESERVED_FDS = 64  # database files, log files, outbound HTTP, the listening socket


def raise_fd_limit() -> int:
    """Raise the soft descriptor limit to the hard one where allowed; return the soft
    limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(soft_limit: int, wanted: int) -> int:
    """At most ``wanted`` connections, and never so many that the descriptors run out."""
    return max(16, min(wanted, soft_limit - RESERVED_FDS))


class GuardedHttpTools(HttpToolsProtocol):
    header_timeout: ClassVar[float] = 10.0
    body_timeout: ClassVar[float] = 30.0
    max_connections: ClassVar[int] = 10_000
    # connections without an active request, oldest first (dicts keep insertion order)
    _waiting: ClassVar[dict[GuardedHttpTools, None]] = {}
    _last_cap_log: ClassVar[float] = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > self.max_connections:
            self._make_room()
            if transport.is_closing():
                return
        self._wait_for_head()

    def _make_room(self) -> None:
        victim = next((p for p in self._waiting if p is not self), None)
        now = time.monotonic()
        if now - GuardedHttpTools._last_cap_log >= 10:
            GuardedHttpTools._last_cap_log = now
            log.warning(
                "connections.cap_reached cap=%d open=%d action=%s (SCHEDO_MAX_CONNECTIONS; "
                "docs/operations.md)", self.max_connections, len(self.connections),
                "evict-oldest-idle" if victim else "refuse-new",
            )
        if victim is not None:
            victim._close()
        else:
            self._close()

    def _wait_for_head(self) -> None:
        self._waiting[self] = None
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _head_arrived(self) -> None:
        self._waiting.pop(self, None)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        self._close()

    def _body_too_slow(self, cycle: Any) -> None:
        self._body_timer = None
        if cycle is self.cycle and not cycle.response_started and not self.transport.is_closing():
            self._send_error(408, "Request Timeout", f"request: the body did not arrive within "
                             f"{self.body_timeout:g} s (SCHEDO_BODY_TIMEOUT_SECONDS)")
        self._close()

    def _body_done(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _close(self) -> None:
        self._head_arrived()
        self._body_done()
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # the next request on a kept-alive connection
            self._wait_for_head()

    def on_headers_complete(self) -> None:
        self._head_arrived()
        super().on_headers_complete()
        # cancelled by on_message_complete, at once for a request without a body. Not for an
        # upgrade (no cycle of its own) nor a pipelined request (its body is not read until
        # the request before it has its answer)
        self._body_done()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope and not self.pipeline:
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_too_slow,
                                                    cycle)

    def on_message_complete(self) -> None:
        self._body_done()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._waiting[self] = None  # idle until the keep-alive timeout or a new request

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        self._body_done()
        super().connection_lost(exc)

    def _unsupported_upgrade_warning(self) -> None:
        # serve.py runs uvicorn with ws="none" (no websocket route, no websocket library
        # loaded): an upgrade request gets the plain HTTP answer of its path, not a warning
        # that a library is missing
        log.debug("upgrade request answered as plain HTTP")

    def send_400_response(self, msg: str) -> None:
        self._send_error(400, "Bad Request", f"request: {msg}")

    def _send_error(self, status: int, reason: str, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        head: list[Any] = [f"HTTP/1.1 {status} {reason}\r\n".encode("ascii")]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.extend([
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"x-should-retry: false\r\n",
            b"connection: close\r\n",
            b"\r\n",
            body,
        ])
        self.transport.write(b"".join(head))
        self.transport.close()
