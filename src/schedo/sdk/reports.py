"""Batching of run reports: results that finish close together go to the server in one
``POST /jobs/executions/complete`` request (one server transaction) instead of one request
each. Callers still see one outcome per report, as if they had sent it alone.

A server without the batch route (the hosted API) answers 404/405 to it: the batcher then
falls back to single reports for the rest of the process's life.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .async_client import AsyncClient
from .endpoints import Report, ReportResult
from .errors import ApiError, error_for
from .models import Execution

MAX_BATCH = 200
LINGER_SECONDS = 0.01


@dataclass
class _Pending:
    report: Report
    future: asyncio.Future[Execution]


class ReportBatcher:
    def __init__(self, client: AsyncClient, *, max_batch: int = MAX_BATCH,
                 linger: float = LINGER_SECONDS) -> None:
        self.client = client
        self.max_batch = max_batch
        self.linger = linger
        self.batch_supported = True
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._fallbacks: set[asyncio.Task[None]] = set()

    async def submit(self, report: Report) -> Execution:
        """Send ``report`` (batched with others); return the execution as the server has it.
        Raises what a single report would: ``ApiError`` subclasses for refusals (per report),
        transport errors for the whole batch."""
        if not self.batch_supported:
            return await self._single(report)
        fut: asyncio.Future[Execution] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(report, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await fut

    async def _single(self, r: Report) -> Execution:
        return await self.client.complete_execution(
            r.execution_id, r.success, r.output, r.error, r.start_ms, r.end_ms, r.exit_code
        )

    async def _flush(self) -> None:
        await asyncio.sleep(self.linger)
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            batch = [p for p in batch if not p.future.done()]  # caller gave up meanwhile
            if not batch:
                continue
            try:
                results = await self.client.complete_executions([p.report for p in batch])
            except ApiError as exc:
                if exc.status in (404, 405) and self.batch_supported:
                    self.batch_supported = False
                    for p in batch:
                        t = asyncio.create_task(self._resolve_single(p))
                        self._fallbacks.add(t)
                        t.add_done_callback(self._fallbacks.discard)
                    continue
                _fail_all(batch, exc)
                continue
            except Exception as exc:
                _fail_all(batch, exc)
                continue
            by_id: dict[int, ReportResult] = {r.execution_id: r for r in results}
            for p in batch:
                res = by_id.get(p.report.execution_id)
                if p.future.done():
                    continue
                if res is None:
                    p.future.set_exception(ApiError(500, "no result for this report"))
                elif res.status == 200 and res.execution is not None:
                    p.future.set_result(res.execution)
                else:
                    p.future.set_exception(error_for(res.status, res.message or ""))

    async def _resolve_single(self, p: _Pending) -> None:
        try:
            ex = await self._single(p.report)
        except Exception as exc:
            if not p.future.done():
                p.future.set_exception(exc)
            return
        if not p.future.done():
            p.future.set_result(ex)


def _fail_all(batch: list[_Pending], exc: BaseException) -> None:
    for p in batch:
        if not p.future.done():
            p.future.set_exception(exc)
