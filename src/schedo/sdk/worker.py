"""The worker runtime behind ``Schedo.run()``: define, pull, run, report, shut down.

- Defines every job (``POST /jobs/definition``) before pulling; a refused definition (4xx)
  stops the worker with the server's message, an unreachable server is retried.
- Pulls with a long poll for as many runs as it has free slots (``limit=free``), sending
  ``x-schedo-worker-id``; connection errors and 5xx back off (0.5 s doubling, capped at
  ``RECONNECT_CAP`` = 5 s, jittered: see ``backoff.py``), one log line per failure. The first
  pull after failures does not wait (``wait=0``), so the server's return is noticed at once;
  a worker is back at most ~5 s after its server, however long the outage was.
- Every result is kept in memory until the server answers its report: 2xx is done; 404/409
  and 401/403 are refusals, logged and dropped; connection errors and 5xx are retried until
  shutdown. A report that cannot be sent as it is (a local error building it, or 400, 413,
  422) goes again with its text escaped to ASCII, then without its output (``_degraded``);
  text with lone surrogates is sent with U+FFFD in their place (``calls.clean_text``). The
  first request that gets through after failures (a pull or a report) wakes the others
  waiting out their backoff, so recovery does not wait for the longest one.
- Shutdown (SIGTERM/SIGINT or ``request_stop``): stop pulling, wait up to ``shutdown_grace``
  for running handlers (those still running then are reported failed), keep retrying the
  reports until the grace ends (at least ``REPORT_GRACE`` seconds after the last handler),
  and return 0; 1 if some result could not be reported.
- A second stop request (a second SIGTERM/SIGINT, e.g. Ctrl-C twice) ends the wait at once:
  handlers still running are given up (async ones cancelled; a sync handler's thread cannot
  be stopped and is left to die with the process) and reported failed with
  ``WorkerShutdown: ... (interrupted by a second signal (SIGINT) 8.0s after the first)``; the
  reports get ``HURRIED_REPORT_GRACE`` (2 s) more. Further requests change nothing. The
  error of a run given up says why: that second request, the shutdown grace expiring, or the
  worker's task being cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from ..limits import PULL_JOBS_MAX_CHARS, PULL_MAX_CODES, PULL_MAX_RUNS
from .backoff import Backoff, Pulse, reconnect_backoff
from .calls import Report
from .client import AsyncClient
from .context import JobContext, run_logger
from .definition import JobDefinition
from .errors import (
    ApiError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)
from .models import Execution
from .reports import ReportBatcher
from .runner import (
    ERROR_MAX_BYTES,
    OUTPUT_MAX_BYTES,
    Aborted,
    HandlerTimeout,
    Outcome,
    failure,
    format_output,
    format_seconds,
    run_handler,
)

T = TypeVar("T")
MAX_PULL = PULL_MAX_RUNS  # runs per pull request (a larger concurrency pulls again)
# characters of ``jobs=a,b,…`` in one pull, a little under the server's PULL_JOBS_MAX_CHARS
MAX_CODES_CHARS = PULL_JOBS_MAX_CHARS - 768
MAX_CODES_URL = 48_000  # the same, percent-encoded (HTTP servers refuse lines over ~64 KiB)
MAX_CODES_PER_PULL = PULL_MAX_CODES  # the server's cap on the codes of one pull


def code_groups(jobs: Mapping[str, object]) -> list[list[str]]:
    """The job codes split into groups that fit one pull request, in order. A worker with
    thousands of jobs (or long names) pulls with one loop per group; its ``concurrency``
    stays one limit for all of them."""
    groups: list[list[str]] = [[]]
    chars = encoded = 0
    for code in sorted(jobs):
        c, e = len(code) + 1, len(quote(code, safe="")) + 3  # with the comma (%2C)
        full = (chars + c > MAX_CODES_CHARS or encoded + e > MAX_CODES_URL
                or len(groups[-1]) >= MAX_CODES_PER_PULL)
        if groups[-1] and full:
            groups.append([])
            chars = encoded = 0
        groups[-1].append(code)
        chars += c
        encoded += e
    return groups
log = logging.getLogger("schedo.worker")

REPORT_GRACE = 5.0  # seconds the reports get after the last handler ended, at least
HURRIED_REPORT_GRACE = 2.0  # ... and after a second signal
_PROCESS_ID: tuple[int, str] | None = None


DEFINE_CONCURRENCY = 8


def process_worker_id() -> str:
    """One random id per process (``x-schedo-worker-id``); a forked child gets its own."""
    global _PROCESS_ID
    pid = os.getpid()
    if _PROCESS_ID is None or _PROCESS_ID[0] != pid:
        _PROCESS_ID = (pid, str(uuid.uuid4()))
    return _PROCESS_ID[1]


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionFailed | ServerError | RateLimited) or (
        isinstance(exc, ApiError) and exc.status == 408
    )


def _delay(exc: BaseException, backoff: Backoff) -> float:
    delay = backoff.next()
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        delay = max(delay, min(exc.retry_after, 300.0))
    return delay


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


def _degraded(out: Outcome) -> Iterator[tuple[bool, str | None, str | None]]:
    """The report of ``out`` as it is, then with its text escaped to ASCII (``\\xff``,
    ``\\udcff``), then without output and with a fixed error: successive fallbacks for a
    report that cannot be sent as it is."""
    yield out.success, out.output, out.error
    yield out.success, _ascii(out.output, OUTPUT_MAX_BYTES), _ascii(out.error, ERROR_MAX_BYTES)
    yield out.success, None, (
        None if out.success
        else "the run failed, but its report could not be sent (see the worker's log)"
    )


@dataclass(frozen=True, slots=True)
class _Report:
    execution: Execution
    outcome: Outcome
    start_ms: int
    end_ms: int


class _Stopped(Exception):
    pass


class Worker:
    def __init__(
        self,
        jobs: Mapping[str, JobDefinition],
        client: AsyncClient,
        *,
        concurrency: int = 10,
        shutdown_grace: float = 30.0,
        poll_wait: float = 25.0,
        worker_id: str | None = None,
    ) -> None:
        self.jobs = dict(jobs)
        self.client = client
        self._batcher = ReportBatcher(client)
        self.concurrency = concurrency
        self.shutdown_grace = shutdown_grace
        self.poll_wait = poll_wait
        self.worker_id = worker_id or process_worker_id()
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()  # second signal: stop waiting
        self._abort = asyncio.Event()  # give up on running handlers
        self._slot_freed = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._server_back = Pulse()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._reports: dict[int, asyncio.Task[None]] = {}
        self._unreported: dict[int, _Report] = {}
        self._fatal: BaseException | None = None
        self._stop_requested_at: float | None = None  # monotonic time of the first request
        self._abort_reason = "the worker stopped"  # why running handlers were given up
        self.lost_reports: list[int] = []

    # -- public ----------------------------------------------------------------------------
    def request_stop(self, reason: str = "stop requested") -> None:
        """First call: stop pulling, let running handlers finish within the grace. Second
        call: give up on them now (``reason`` is a signal name or who asked, e.g. "stop()")."""
        now = time.monotonic()
        if self._stopping.is_set():
            if self._hurry.is_set():
                log.warning("%s again: already shutting down without waiting", reason)
                return
            log.warning("%s again: shutting down now without waiting for running handlers", reason)
            first = self._stop_requested_at
            after = f" {now - first:.1f}s after the first" if first is not None else ""
            what = "signal" if reason.startswith("SIG") else "stop request"
            self._give_up(f"interrupted by a second {what} ({reason}){after}")
            self._hurry.set()
            return
        self._stop_requested_at = now
        log.info(
            "%s: stopping (waiting up to %s for %d running handler(s); "
            "a second signal gives up on them at once)",
            reason,
            format_seconds(self.shutdown_grace),
            len(self._running),
        )
        self._stopping.set()

    @property
    def unreported(self) -> list[int]:
        return sorted(self._unreported)

    async def run(self) -> int:
        """Define, pull and run until stopped; 0 after a clean stop, 1 if results could not
        be reported. Cancelling the task stops at once (as a second signal would)."""
        try:
            await self._define_all()
            if not self._stopping.is_set():
                log.info(
                    "worker %s serving %s (concurrency %d)",
                    self.worker_id,
                    ", ".join(sorted(self.jobs)),
                    self.concurrency,
                )
                await asyncio.gather(*(self._pull_loop(g) for g in code_groups(self.jobs)))
        except asyncio.CancelledError:
            self._give_up("the worker's task was cancelled")
            self._hurry.set()
            raise
        finally:
            await self._drain()
        if self._fatal is not None:
            raise self._fatal
        if self.lost_reports:
            return 1
        log.info("worker stopped")
        return 0

    # -- helpers ---------------------------------------------------------------------------
    def _give_up(self, why: str) -> None:
        """Abort the running handlers; the first reason given is the one reported."""
        if not self._abort.is_set():
            self._abort_reason = why
            self._abort.set()

    async def _until_stopped(self, aw: Awaitable[T]) -> T:
        """Await ``aw`` unless a stop request comes first (then cancel it, raise _Stopped).
        An answer that arrived together with the stop request is still returned."""
        task = asyncio.ensure_future(aw)
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            stopper.cancel()
        if task.done():
            return task.result()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except Exception:  # its answer is no longer wanted
            pass
        raise _Stopped

    # -- definitions -----------------------------------------------------------------------
    async def _define_all(self) -> None:
        """Define every job (create-or-update), in the app's order, ``DEFINE_CONCURRENCY``
        at a time: an app with thousands of jobs starts in seconds, not minutes.

        The app checked every definition when it was decorated, so a refusal is rare (a
        server with other rules, or a refused key). At the first one no further definition
        is sent; those in flight are answered (not cancelled, so that the log can say
        exactly what was defined), and the refusal is raised. Jobs the server accepted stay
        defined: each definition stands alone, the API has no transaction across several,
        and deleting them could remove a job (and its history) that another worker serves.
        """
        sem = asyncio.Semaphore(DEFINE_CONCURRENCY)
        refusals: list[BaseException] = []
        refused = asyncio.Event()  # also ends the retry waits of the others
        defined: list[str] = []

        async def one(d: JobDefinition) -> None:
            async with sem:
                if refused.is_set() or self._stopping.is_set():
                    return  # not sent
                try:
                    if await self._define(d, refused):
                        defined.append(d.name)
                except Exception as exc:
                    refusals.append(exc)
                    refused.set()

        tasks = [asyncio.create_task(one(d)) for d in self.jobs.values()]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:  # only when we are cancelled ourselves
                t.cancel()
        if not refusals:
            return
        refusal = refusals[0]
        shown = ", ".join(defined[:20]) + (", …" if len(defined) > 20 else "")
        what = (
            "the server refused the API key"
            if isinstance(refusal, Unauthorized | Forbidden)
            else "a definition was refused"
        )
        log.error(
            "%s (%s): no further definition sent; %d of %d job(s) defined before it or "
            "meanwhile, and they stay defined%s",
            what,
            refusal,
            len(defined),
            len(self.jobs),
            f": {shown}" if defined else "",
        )
        raise refusal

    async def _define(self, d: JobDefinition, refused: asyncio.Event) -> bool:
        """Define one job, retrying while the server cannot answer; True once defined,
        False if stopped (or another definition was refused) first. Raises a refusal."""
        backoff = reconnect_backoff()
        while not self._stopping.is_set() and not refused.is_set():
            try:
                job = await self._until_stopped(
                    self.client.define_job(
                        d.name,
                        d.schedule,
                        blocking=d.blocking,
                        metadata=d.metadata,
                        timeout_seconds=d.timeout_seconds,
                        max_retries=d.max_retries,
                        timezone=d.timezone,
                        catch_up=d.catch_up,
                    )
                )
            except _Stopped:
                return False
            except (Unauthorized, Forbidden):
                raise  # about the key, not about this job
            except Exception as exc:
                if not _retryable(exc):
                    if isinstance(exc, ApiError):
                        raise type(exc)(exc.status, f"job {d.name!r}: {exc.message}") from None
                    raise
                delay = _delay(exc, backoff)
                log.warning("defining job %s failed (%s); retrying in %.1fs", d.name, exc, delay)
                with contextlib.suppress(TimeoutError, _Stopped):
                    await self._until_stopped(asyncio.wait_for(refused.wait(), delay))
                continue
            log.info(
                "defined job %s (id %d, schedule %r, timezone %s)",
                job.name,
                job.id,
                job.cron_expression,
                job.timezone,
            )
            return True
        return False

    # -- pulling ---------------------------------------------------------------------------
    async def _pull_loop(self, codes: list[str]) -> None:
        backoff = reconnect_backoff()
        while not self._stopping.is_set():
            free = min(self.concurrency - len(self._running), MAX_PULL)
            if free <= 0:
                self._slot_freed.clear()
                try:
                    await self._until_stopped(self._slot_freed.wait())
                except _Stopped:
                    return
                continue
            # after failures, a pull that answers at once: the server's return is noticed
            # (and the reports waiting out their backoff woken) without a long poll's wait
            wait = 0 if backoff.failures else self.poll_wait
            try:
                runs = await self._until_stopped(
                    self.client.pull_executions(
                        codes, wait=wait, limit=free, worker_id=self.worker_id
                    )
                )
            except _Stopped:
                return
            except (Unauthorized, Forbidden) as exc:
                log.error("pull refused (%s): stopping the worker", exc)
                self._fatal = exc
                self._stopping.set()
                return
            except Exception as exc:
                delay = _delay(exc, backoff)
                level = logging.WARNING if _retryable(exc) else logging.ERROR
                log.log(level, "pull failed (%s); retrying in %.1fs", exc, delay)
                try:  # a report that gets through meanwhile ends the wait
                    await self._until_stopped(self._server_back.wait(delay))
                except _Stopped:
                    return
                continue
            if backoff.failures:
                log.info(
                    "reconnected to %s after %d failed attempt(s)",
                    self.client.base_url,
                    backoff.failures,
                )
                backoff.reset()
                self._server_back.notify()
            for execution in runs:
                self._start(execution)

    # -- running ---------------------------------------------------------------------------
    def _start(self, execution: Execution) -> None:
        if execution.id in self._running or execution.id in self._unreported:
            log.warning("execution %d was handed out twice; ignoring the copy", execution.id)
            return
        task = asyncio.create_task(self._execute(execution), name=f"schedo-run-{execution.id}")
        self._running[execution.id] = task

        def done(_t: asyncio.Task[None]) -> None:
            self._running.pop(execution.id, None)
            self._slot_freed.set()

        task.add_done_callback(done)

    async def _execute(self, ex: Execution) -> None:
        definition = self.jobs.get(ex.job_code)
        scheduled = ex.scheduled_for or ex.pick_up_time or datetime.now(UTC)
        ctx = JobContext(
            execution_id=ex.id,
            job_code=ex.job_code,
            attempt=ex.attempt,
            scheduled_for=scheduled,
            metadata=dict(ex.metadata),
            trigger=ex.trigger,
            job_id=ex.job_id,
            log=run_logger(ex.job_code, ex.id),
        )
        async with self._slots:  # several pull loops may together claim a few runs too many
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
            outcome = await self._outcome(definition, ctx)
        end_ms = max(start_ms, int(time.time() * 1000))
        duration = time.monotonic() - started
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
        self._report(_Report(ex, outcome, start_ms, end_ms))

    async def _outcome(self, definition: JobDefinition | None, ctx: JobContext) -> Outcome:
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
                abort=self._abort,
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
                "WorkerShutdown: the worker stopped before the handler finished "
                f"({self._abort_reason})",
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

    # -- reporting -------------------------------------------------------------------------
    def _report(self, report: _Report) -> None:
        exec_id = report.execution.id
        self._unreported[exec_id] = report
        task = asyncio.create_task(self._deliver(report), name=f"schedo-report-{exec_id}")
        self._reports[exec_id] = task
        task.add_done_callback(lambda _t: self._reports.pop(exec_id, None))

    async def _deliver(self, report: _Report) -> None:
        """Report until the server answers. A report that cannot be sent as it is (a local
        error building it, or the server refusing it as malformed: 400, 413, 422) is not
        dropped: it is sent again with its text escaped to ASCII, then, as a last resort,
        without its output, so that the run is not left to expire and run twice."""
        ex, out = report.execution, report.outcome
        backoff = reconnect_backoff()
        attempts = _degraded(out)
        success, output, error = next(attempts)
        while True:
            try:
                await self._batcher.submit(
                    Report(ex.id, success, output, error, report.start_ms, report.end_ms)
                )
            except Exception as exc:
                if _retryable(exc):
                    delay = _delay(exc, backoff)
                    log.warning(
                        "report of execution %d failed (%s); retrying in %.1fs", ex.id, exc, delay
                    )
                    await self._server_back.wait(delay)
                    continue
                if isinstance(exc, Conflict | NotFound):
                    log.warning(
                        "report of execution %d refused by the server (%s); dropped", ex.id, exc
                    )
                elif _malformed(exc) and (fallback := next(attempts, None)) is not None:
                    log.error(
                        "report of execution %d could not be sent as it is (%s: %s); "
                        "sending it again with its text simplified",
                        ex.id, type(exc).__name__, exc,
                    )  # fmt: skip
                    success, output, error = fallback
                    continue
                else:
                    log.error("report of execution %d failed (%s); dropped", ex.id, exc)
                self._unreported.pop(ex.id, None)
                return
            self._unreported.pop(ex.id, None)
            if backoff.failures:
                self._server_back.notify()  # the server answers again: wake the others
                log.info(
                    "report of execution %d delivered after %d retries", ex.id, backoff.failures
                )
            return

    # -- shutdown --------------------------------------------------------------------------
    async def _wait_tasks(
        self, tasks: list[asyncio.Task[None]], until: float, hurry_ends: bool = True
    ) -> None:
        if not tasks:
            return
        loop = asyncio.get_running_loop()
        hurry = asyncio.ensure_future(self._hurry.wait() if hurry_ends else asyncio.Event().wait())
        try:
            while not hurry.done():
                pending = {t for t in tasks if not t.done()}
                remaining = until - loop.time()
                if not pending or remaining <= 0:
                    break
                await asyncio.wait(
                    {*pending, hurry}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            hurry.cancel()

    async def _drain(self) -> None:
        self._stopping.set()
        loop = asyncio.get_running_loop()
        grace_end = loop.time() + self.shutdown_grace
        running = list(self._running.values())
        if running:
            await self._wait_tasks(running, grace_end)
            if any(not t.done() for t in running):
                # each is reported failed by its own task
                self._give_up(f"shutdown grace {format_seconds(self.shutdown_grace)} expired")
                await asyncio.wait(running, timeout=10)
        reports = list(self._reports.values())
        if reports:
            until = max(grace_end, loop.time() + REPORT_GRACE)
            await self._wait_tasks(reports, until)
            if self._hurry.is_set():  # a second signal: one short last chance to report
                await self._wait_tasks(
                    list(self._reports.values()),
                    loop.time() + HURRIED_REPORT_GRACE,
                    hurry_ends=False,
                )
        for task in [*self._running.values(), *self._reports.values()]:
            task.cancel()
        leftovers = [*self._running.values(), *self._reports.values()]
        if leftovers:
            await asyncio.wait(leftovers, timeout=5)
        if self._unreported:
            self.lost_reports = sorted(self._unreported)
            log.error(
                "could not report %d result(s) before shutting down (executions %s); "
                "the server will expire them",
                len(self.lost_reports),
                ", ".join(map(str, self.lost_reports)),
            )
