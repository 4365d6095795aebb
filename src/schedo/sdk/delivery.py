"""Reporting the outcomes of runs: every result is kept until the server answers its report.

- Reports go out through the ``ReportBatcher`` (results that end close together share one
  request); a server without the batch route gets single reports.
- 2xx is done. 404/409 (the run was deleted, or ended differently meanwhile, e.g. expired)
  and other refusals (401/403, ...) are logged and dropped. Connection errors, 5xx, 429 and
  408 are retried with the reconnect backoff (capped at 5 s, a longer ``Retry-After``
  honoured) until the server answers or the shutdown ends (the runtime then cancels the
  delivery: the result is lost, logged, and the exit status 1).
- A report that cannot be sent as it is (a local error building it, or the server refusing
  its content: 400, 413, 422) is not dropped: it goes again with its text escaped to ASCII,
  then without its output (``degraded``), so the run is not left to expire and run twice.
  Text with lone surrogates is sent with U+FFFD in their place (``calls.clean_text``).
- The first report that gets through after failures notifies ``server_back``, which wakes
  the other reports (and the pulls) waiting out their backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

from ..limits import ERROR_MAX_BYTES, OUTPUT_MAX_BYTES
from .async_client import AsyncClient
from .backoff import Pulse, reconnect_backoff, retry_delay, retryable
from .endpoints import Report
from .errors import ApiError, Conflict, ConnectionFailed, NotFound
from .executor import Outcome
from .reports import ReportBatcher
from .voice import Voice


def _malformed(exc: BaseException) -> bool:
    """The report itself is the problem: a local error building the request, or the server
    refusing its content (not the key, not the run's state)."""
    if isinstance(exc, ApiError):
        return exc.status in (400, 413, 422)
    return not isinstance(exc, ConnectionFailed)


def _ascii(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    return escaped if len(escaped) <= limit else escaped[: limit - 32] + "\n... [truncated]"


def degraded(out: Outcome) -> Iterator[Outcome]:
    """``out`` as it is, then with its text escaped to ASCII (``\\xff``, ``\\udcff``), then
    without output and with a fixed error: successive fallbacks for a report that cannot be
    sent as it is."""
    yield out
    yield replace(
        out, output=_ascii(out.output, OUTPUT_MAX_BYTES), error=_ascii(out.error, ERROR_MAX_BYTES)
    )
    yield replace(
        out,
        output=None,
        error=None
        if out.success
        else "the run failed, but its report could not be sent (see the worker's log)",
    )


def _report(execution_id: int, out: Outcome) -> Report:
    return Report(
        execution_id, out.success, out.output, out.error, out.start_ms, out.end_ms, out.exit_code
    )


class Delivery:
    """The reports in flight, one task each, and the results not yet reported."""

    def __init__(self, client: AsyncClient, voice: Voice, server_back: Pulse) -> None:
        self._batcher = ReportBatcher(client)
        self._voice = voice
        self._server_back = server_back
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self.unreported: dict[int, Outcome] = {}

    def holds(self, execution_id: int) -> bool:
        return execution_id in self.unreported

    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks.values())

    def submit(self, execution_id: int, outcome: Outcome) -> None:
        self.unreported[execution_id] = outcome
        task = asyncio.create_task(
            self._deliver(execution_id, outcome), name=f"schedo-report-{execution_id}"
        )
        self._tasks[execution_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(execution_id, None))

    async def _deliver(self, execution_id: int, outcome: Outcome) -> None:
        """Report until the server answers (see the module docstring)."""
        voice = self._voice
        backoff = reconnect_backoff()
        attempts = degraded(outcome)
        out = next(attempts)
        while True:
            try:
                await self._batcher.submit(_report(execution_id, out))
            except Exception as exc:
                if retryable(exc):
                    delay = retry_delay(exc, backoff)
                    voice.report_failed(execution_id, exc, delay)
                    await self._server_back.wait(delay)
                    continue
                if isinstance(exc, Conflict | NotFound):
                    voice.report_refused(execution_id, exc)
                elif _malformed(exc) and (fallback := next(attempts, None)) is not None:
                    voice.report_simplified(execution_id, exc)
                    out = fallback
                    continue
                else:
                    voice.report_dropped(execution_id, exc)
                self.unreported.pop(execution_id, None)
                return
            self.unreported.pop(execution_id, None)
            if backoff.failures:
                self._server_back.notify()  # the server answers again: wake the others
                voice.report_delivered(execution_id, backoff.failures)
            return
