"""Live output of runs (issue 21): lines a run writes while it runs (``ctx.log(...)``, the
handler's captured ``logging`` records, an agent's command output), sent to the server in
small batches (``POST /jobs/executions/{id}/log``) so ``schedo runs log RUN --follow`` and
the run page can tail them.

- ``write(execution_id, stream, text)`` may be called from any thread (sync handlers run in
  threads); it never blocks and never raises. Lines wait in a buffer bounded by
  ``MAX_BUFFERED`` (beyond it they are dropped and counted).
- A flush goes out every ``FLUSH_EVERY`` (0.5) seconds, or as soon as one run has
  ``BATCH_LINES`` (64) lines waiting; one request per run per flush.
- ``flush(execution_id)`` sends a run's lines now (the executor calls it before the run's
  report, so the output is complete when the run ends).
- Failures (the server unreachable, a 5xx) drop that batch after one log line: the live
  output is a convenience, the run's report is what is kept. A server without the route
  (404/405 on every run) ends the sending for good; a 404 for one run (deleted) drops its
  lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
from collections import defaultdict

from ..limits import LIVE_LINE_MAX
from .async_client import AsyncClient
from .errors import ApiError

log = logging.getLogger("schedo.worker")

FLUSH_EVERY = 0.5
BATCH_LINES = 64
MAX_BUFFERED = 10_000
LINE_MAX = LIVE_LINE_MAX


class LiveLog:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._lines: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
        self._count = 0
        self.dropped = 0
        self.disabled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._sent_any = False

    def start(self) -> None:
        """Bind to the running loop (the first write from a task does it too)."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            # a context of its own: the run that started it must not see its requests' logs
            self._task = self._loop.create_task(self._flusher(), name="schedo-live-log",
                                                context=contextvars.Context())

    def write(self, execution_id: int, stream: str, text: str) -> None:
        if self.disabled:
            return
        now = time.time_ns() // 1_000_000
        with self._lock:
            for line in text.splitlines() or [""]:
                if self._count >= MAX_BUFFERED:
                    self.dropped += 1
                    continue
                self._lines[execution_id].append((now, stream, line[:LINE_MAX]))
                self._count += 1
            full = len(self._lines[execution_id]) >= BATCH_LINES
        if full and self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed
                self._loop.call_soon_threadsafe(self._wake.set)

    def _take(self, execution_id: int | None = None) -> dict[int, list[tuple[int, str, str]]]:
        with self._lock:
            if execution_id is None:
                taken = dict(self._lines)
                self._lines.clear()
            else:
                got = self._lines.pop(execution_id, None)
                taken = {execution_id: got} if got else {}
            self._count -= sum(len(v) for v in taken.values())
        return taken

    async def flush(self, execution_id: int | None = None) -> None:
        """Send the waiting lines (of one run, or of all) now."""
        for run_id, lines in self._take(execution_id).items():
            for i in range(0, len(lines), 1000):
                await self._send(run_id, lines[i : i + 1000])

    async def _send(self, run_id: int, lines: list[tuple[int, str, str]]) -> None:
        if self.disabled:
            return
        try:
            await self.client.append_log(run_id, [(at, s, t) for at, s, t in lines])
            self._sent_any = True
        except ApiError as exc:
            if exc.status in (404, 405) and not self._sent_any:
                self.disabled = True
                log.info("the server does not keep live output (%s): not sending it", exc)
            elif exc.status != 404:
                log.warning("live output of run %d not sent (%s); dropped", run_id, exc)
        except Exception as exc:  # unreachable: the report is what counts
            log.warning("live output of run %d not sent (%s); dropped", run_id, exc)

    async def _flusher(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_EVERY)
            self._wake.clear()
            await self.flush()

    async def close(self) -> None:
        """Send what waits, and stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 5)
