"""``HandlerExecutor``: the runtime's executor for a Python app's handlers (``Schedo.run()``,
``schedo worker``).

For each run it builds the handler's ``JobContext``, calls the handler (``runner.py``: sync
ones in a thread, async ones as tasks) within the job's local ``timeout``, and turns what it
returned or raised into the ``Outcome``: a returned ``str`` is the output, any other value
JSON; an exception fails the run with ``Type: message`` as its error and the traceback's
tail as its output; an overrun fails it with ``TimeoutError: handler exceeded 60s``; a run
the runtime gave up fails with ``WorkerShutdown: ... (<why>)``; a run cancelled on the server
is stopped (an async handler's task cancelled; a sync handler sees ``ctx.cancelled``) and
nothing is reported (``run.cancelled`` in the log). One log line at the start
(``run.started``) and one at the end (``run.ended``, with the duration and outcome).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from .context import CURRENT_SINK, JobContext, install_capture, run_logger
from .definition import JobDefinition
from .executor import Abort, Outcome, format_seconds
from .live_log import LiveLog
from .models import Execution
from .runner import Aborted, HandlerTimeout, failure, format_output, run_handler

log = logging.getLogger("schedo.worker")


class HandlerExecutor:
    def __init__(self, jobs: Mapping[str, JobDefinition], live: LiveLog | None = None) -> None:
        self.jobs = jobs
        self.live = live  # where ctx.log(...) and captured logging go (None: nowhere)

    async def run(self, execution: Execution, abort: Abort) -> Outcome | None:
        ex = execution
        scheduled = ex.scheduled_for or ex.pick_up_time or datetime.now(UTC)
        definition = self.jobs.get(ex.job_code)
        sink = None
        if self.live is not None:
            self.live.start()
            live = self.live
            sink = lambda text: live.write(ex.id, "log", text)  # noqa: E731
        ctx = JobContext(
            execution_id=ex.id,
            job_code=ex.job_code,
            attempt=ex.attempt,
            scheduled_for=scheduled,
            metadata=dict(ex.metadata),
            trigger=ex.trigger,
            job_id=ex.job_id,
            log=run_logger(ex.job_code, ex.id, sink),
            abort=abort,
            payload=ex.payload,
        )
        log.info(
            "run.started job=%s execution=%d attempt=%d trigger=%s scheduled_for=%s",
            ex.job_code,
            ex.id,
            ex.attempt,
            ex.trigger,
            scheduled.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        start_ms = int(time.time() * 1000)
        started = time.monotonic()
        capture = sink if definition is not None and definition.capture_logs else None
        if capture is not None:
            install_capture()
        token = CURRENT_SINK.set(capture)
        try:
            outcome = await self._outcome(definition, ctx, abort)
        finally:
            CURRENT_SINK.reset(token)
        if self.live is not None:
            await self.live.flush(ex.id)  # the output is complete before the report
        end_ms = max(start_ms, int(time.time() * 1000))
        duration = time.monotonic() - started
        if abort.cancelled:
            log.info("run.cancelled job=%s execution=%d attempt=%d duration=%.3fs",
                     ex.job_code, ex.id, ex.attempt, duration)
            return None
        if outcome.success:
            log.info(
                "run.ended job=%s execution=%d attempt=%d duration=%.3fs outcome=completed",
                ex.job_code,
                ex.id,
                ex.attempt,
                duration,
            )
        else:
            log.warning(
                "run.ended job=%s execution=%d attempt=%d duration=%.3fs outcome=failed error=%s",
                ex.job_code,
                ex.id,
                ex.attempt,
                duration,
                (outcome.error or "").splitlines()[0] if outcome.error else "",
            )
        return replace(outcome, start_ms=start_ms, end_ms=end_ms)

    async def close(self) -> None:
        """Send the live output still waiting. (A sync handler's thread that overran is
        abandoned: it ends with the process.)"""
        if self.live is not None:
            await self.live.close()

    async def _outcome(
        self, definition: JobDefinition | None, ctx: JobContext, abort: Abort
    ) -> Outcome:
        if definition is None:
            return Outcome(
                False, None, f"LookupError: this worker has no handler for job {ctx.job_code!r}"
            )
        args: tuple[Any, ...] = (ctx,) if definition.takes_context else ()
        try:
            value = await run_handler(
                definition.handler,
                args,
                is_async=definition.is_async,
                seconds=definition.timeout,
                abort=abort,
                thread_name=f"schedo-{ctx.job_code}-{ctx.execution_id}",
            )
        except HandlerTimeout:
            return Outcome(
                False, None, f"TimeoutError: handler exceeded {format_seconds(definition.timeout)}"
            )
        except Aborted:
            return Outcome(
                False,
                None,
                f"WorkerShutdown: the worker stopped before the handler finished ({abort.reason})",
            )
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            return failure(exc)  # the handler itself raised CancelledError
        except BaseException as exc:  # every handler failure is reported
            return failure(exc)
        try:
            return Outcome(True, format_output(value), None)
        except Exception as exc:  # a str() / default=str that raised
            return failure(exc)
