"""A small HTTP/1.1 load generator: C keep-alive connections on asyncio streams (uvloop when
installed), each sending one request at a time for a fixed duration.

Why not httpx: its per-request cost in Python (~0.3 ms of CPU) would make the client, not the
server, the limit on this 2-core machine, and the /healthz ceiling would then measure httpx.
Requests are pre-encoded bytes; responses are read by Content-Length (or chunked encoding).
Loopback only; bounded by duration and by ``max_requests``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .common import HOST, percentile

RequestFactory = Callable[[int], bytes]


def request(
    method: str, path: str, port: int, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"host: {HOST}:{port}"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append("content-type: application/json")
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    sample_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": self.seconds,
            "rps": self.rps,
            "statuses": self.statuses,
            "sample_error": self.sample_error,
            "latency_p50_ms": 1000 * percentile(self.latencies, 50),
            "latency_p99_ms": 1000 * percentile(self.latencies, 99),
            "latency_max_ms": 1000 * max(self.latencies) if self.latencies else None,
        }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = -1
    chunked = False
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v.strip())
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]
    return status, await reader.readexactly(max(0, length))


async def _run(
    port: int,
    make: RequestFactory,
    connections: int,
    duration: float,
    warmup: float,
    max_requests: int,
    check: Callable[[int, bytes], bool] | None,
) -> LoadResult:
    res = LoadResult()
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + warmup
    end = measure_from + duration
    counter = iter(range(max_requests))

    async def conn_loop() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while loop.time() < end:
                i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                started = loop.time()
                writer.write(make(i))
                status, body = await _read_response(reader)
                t1 = time.perf_counter()
                if started < measure_from:
                    continue
                res.requests += 1
                res.latencies.append(t1 - t0)
                res.statuses[status] = res.statuses.get(status, 0) + 1
                ok = 200 <= status < 300 and (check is None or check(status, body))
                if not ok:
                    res.errors += 1
                    if not res.sample_error:
                        res.sample_error = f"{status} {body[:200]!r}"
        finally:
            writer.close()

    await asyncio.gather(*(conn_loop() for _ in range(connections)))
    res.seconds = min(loop.time(), end) - measure_from
    return res


def run(
    port: int,
    make: RequestFactory,
    connections: int = 64,
    duration: float = 8.0,
    warmup: float = 1.0,
    max_requests: int = 10_000_000,
    check: Callable[[int, bytes], bool] | None = None,
) -> LoadResult:
    """Drive ``make(i)`` requests for ``warmup + duration`` seconds; measure after warm-up."""
    t = time.perf_counter()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    out: LoadResult = runner(_run(port, make, connections, duration, warmup, max_requests, check))
    if out.seconds <= 0:
        out.seconds = time.perf_counter() - t
    return out
