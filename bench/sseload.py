"""Load for the SSE claim route ``GET /jobs/executions/sse``: S streams, each a worker naming
its own job code(s), all opened at once on raw asyncio streams (uvloop when installed), counting
the ``data:`` events (one claimed run each) that arrive.

bench/loadgen.py cannot drive this route: it sends a request and waits for a whole response,
and an SSE response never ends. A stream claims and sends what is due as fast as it can, then
waits for more, so what is measured is the claim rate: runs delivered per second over all
streams, with a pool of pending runs loaded beforehand. Each stream stops when it has received
its share of the pool or when the time is up; the measured window opens after the warm-up (or
at the first event, if later) and ends when the last stream got its share, if that comes
before the end. Every event's run id is kept: a run delivered
twice is an error. Loopback only; bounded by the duration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .common import HOST

FIRST_EVENT_GRACE = 10.0  # seconds the streams wait for a first event beyond warm-up + duration


@dataclass
class SseResult:
    events: int = 0  # in the measured window
    total_events: int = 0  # warm-up included
    seconds: float = 0.0
    drained: bool = False  # every stream got its whole share before the time was up
    duplicates: int = 0
    streams_started: int = 0  # got their response head before the end
    head_max_s: float = 0.0  # the last stream's response head came this long after the start
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "total_events": self.total_events,
            "seconds": self.seconds,
            "events_per_s": self.rate,
            "drained": self.drained,
            "duplicates": self.duplicates,
            "streams_started": self.streams_started,
            "head_max_s": self.head_max_s,
            "errors": self.errors[:5],
        }


async def _head(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    chunked = any(
        ln.lower().startswith("transfer-encoding:") and "chunked" in ln.lower() for ln in head
    )
    return int(head[0].split(" ", 2)[1]), chunked


async def _body_part(reader: asyncio.StreamReader, chunked: bool) -> bytes:
    """The next part of a response body; b"" at its end."""
    if not chunked:
        return await reader.read(65536)
    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
    if size == 0:
        return b""
    return (await reader.readexactly(size + 2))[:-2]


def _window(
    stamps: Sequence[float], start: float, warmup: float, duration: float
) -> tuple[float, float]:
    """The measured window: ``duration`` seconds from the end of the warm-up, or from the
    first event if that comes later (a loaded server may take a while to answer 64 streams);
    until the first event, the streams wait up to ``FIRST_EVENT_GRACE`` more."""
    if not stamps:
        return start + warmup, start + warmup + duration + FIRST_EVENT_GRACE
    opened = max(start + warmup, stamps[0])
    return opened, opened + duration


async def _run(
    port: int,
    paths: Sequence[str],
    headers: dict[str, str],
    expect: Sequence[int],
    duration: float,
    warmup: float,
) -> SseResult:
    loop = asyncio.get_running_loop()
    res = SseResult()
    start = loop.time()
    stamps: list[float] = []  # loop time of each event

    def window() -> tuple[float, float]:
        return _window(stamps, start, warmup, duration)
    seen: set[int] = set()
    finished: list[float] = []
    first: list[float] = []  # seconds from the start to each stream's response head

    async def stream(k: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            lines = [f"GET {paths[k]} HTTP/1.1", f"host: {HOST}:{port}"]
            lines += [f"{h}: {v}" for h, v in headers.items()]
            lines.append(f"x-schedo-worker-id: bench-sse-{k}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            try:
                status, chunked = await asyncio.wait_for(_head(reader), window()[1] - loop.time())
            except TimeoutError:
                return  # not served before the end: counted in streams_started
            first.append(loop.time() - start)
            if status != 200:
                res.errors.append(f"stream {k}: status {status}")
                return
            buf = b""
            got = 0
            while got < expect[k]:
                left = window()[1] - loop.time()
                if left <= 0:
                    return
                try:
                    data = await asyncio.wait_for(_body_part(reader, chunked), left)
                except TimeoutError:
                    return
                if not data:
                    res.errors.append(f"stream {k}: ended by the server")
                    return
                buf += data
                *events, buf = buf.split(b"\n\n")
                now = loop.time()
                for ev in events:
                    if not ev.startswith(b"id: "):
                        if b"event: error" in ev:
                            res.errors.append(f"stream {k}: {ev[:200]!r}")
                            return
                        continue  # a comment (": connected", keep-alive)
                    run_id = int(ev[4 : ev.index(b"\n")])
                    if run_id in seen:
                        res.duplicates += 1
                    seen.add(run_id)
                    stamps.append(now)
                    got += 1
            finished.append(loop.time())
        finally:
            writer.close()

    await asyncio.gather(*(stream(k) for k in range(len(paths))))
    res.total_events = len(stamps)
    res.drained = len(finished) == len(paths)
    res.streams_started = len(first)
    res.head_max_s = max(first, default=0.0)
    measure_from, end = window()
    stop = min(end, max(finished)) if res.drained and finished else end
    res.events = sum(1 for t in stamps if measure_from <= t <= stop)
    res.seconds = max(0.0, stop - measure_from)
    return res


def run(
    port: int,
    paths: Sequence[str],
    headers: dict[str, str],
    expect: Sequence[int],
    duration: float = 8.0,
    warmup: float = 1.0,
) -> SseResult:
    """Open one stream per path (``expect[k]`` events wanted on stream k) for ``warmup +
    duration`` seconds at most; count events after warm-up."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    out: SseResult = runner(_run(port, paths, headers, expect, duration, warmup))
    return out
