"""The worker runtime: pull runs, carry them out through an ``Executor``, report, shut down.

``Schedo.run()`` / ``schedo worker`` (``worker.Worker``: a Python app's handlers) and
``schedo agent`` (``schedo.cli.agent.Agent``: shell commands) are this one runtime with
different parameters: the executor, the pull scopes (job codes, or ``type=command`` and no
codes for "every command job"), the worker id, which pull refusals stop it, how long the
reports get at the shutdown, the wording of the log (``voice.Voice``), and ``prepare()``,
what a subclass does before the first pull (the worker defines its jobs, the agent checks
``--jobs``).

- Pulls with a long poll for as many runs as it has free slots (``limit=free``, at most
  ``MAX_PULL``), one loop per ``PullScope`` (a worker whose codes do not fit one request
  line pulls with several; ``concurrency`` stays one limit for all), sending
  ``x-schedo-worker-id``. Connection errors and 5xx back off (0.5 s doubling, capped at
  ``RECONNECT_CAP`` = 5 s, jittered: see ``backoff.py``), one log line per failure. The first
  pull after failures does not wait (``wait=0``), so the server's return is noticed at once;
  the runtime is back at most ~5 s after its server, however long the outage was. A refusal
  that ``refuses`` names (the key: 401/403; for the agent any 4xx) stops the runtime, and
  ``run()`` raises it after the shutdown.
- Each claimed run goes to ``executor.run`` (at most ``concurrency`` at once); its outcome is
  kept until the server answers its report (``delivery.py``). The first request that gets
  through after failures (a pull or a report) wakes the others waiting out their backoff.
- Shutdown (``request_stop``, e.g. on SIGTERM/SIGINT): stop pulling, wait up to
  ``shutdown_grace`` for the running runs (those still running then are given up: the
  ``Abort`` is set, and the executor reports them failed), keep retrying the reports until
  ``reports_after_grace`` after the grace and at least ``REPORT_GRACE`` after the last run
  ended, and return 0; 1 if some result could not be reported.
- Cancellation (``cancel_watch.py``): while runs are running, one long poll
  (``POST /jobs/executions/cancelled``) asks which of them were cancelled on the server; a
  cancelled run's ``Abort`` child is cancelled (the executor stops it and reports nothing).
- A second stop request ends the wait at once: the runs still going are given up with the
  reason (``interrupted by a second signal (SIGINT) 8.0s after the first``) and the reports
  get ``hurried_report_grace`` more. Further requests change nothing. Cancelling the task of
  ``run()`` stops at once, like a second request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..limits import PULL_MAX_RUNS
from .async_client import AsyncClient
from .backoff import Backoff, Pulse, reconnect_backoff, retry_delay
from .cancel_watch import CancelWatch
from .delivery import Delivery
from .errors import Forbidden, Unauthorized
from .executor import Abort, Executor, format_seconds
from .models import Execution
from .voice import Voice

T = TypeVar("T")
MAX_PULL = PULL_MAX_RUNS  # runs per pull request (a larger concurrency pulls again)
REPORT_GRACE = 5.0  # seconds the reports get after the last run ended, at least
HURRIED_REPORT_GRACE = 2.0  # ... and after a second stop request (the worker's)


def key_refused(exc: BaseException) -> bool:
    """The pull refusals that stop a worker: the key (401/403). Others are retried."""
    return isinstance(exc, Unauthorized | Forbidden)


@dataclass(frozen=True, slots=True)
class PullScope:
    """What one pull loop asks for: runs of ``jobs`` (None or empty: every job of
    ``job_type``), of jobs of ``job_type`` (None: the server's default, sdk jobs)."""

    jobs: tuple[str, ...] | None
    job_type: str | None = None
    agent_host: str | None = None  # what an agent announces (command jobs' targets)
    agent_tags: tuple[str, ...] = ()


class Stopped(Exception):
    """A stop request came first (``Runtime.until_stopped``)."""


def install_signal_handlers(
    loop: asyncio.AbstractEventLoop, stop: Callable[[str], None]
) -> list[int]:
    """SIGTERM and SIGINT call ``stop(name)``; the signals installed (none off the main
    thread or on Windows)."""
    installed: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop, sig.name)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(sig)
    return installed


class Runtime:
    def __init__(
        self,
        client: AsyncClient,
        executor: Executor,
        scopes: Sequence[PullScope],
        *,
        voice: Voice,
        worker_id: str,
        concurrency: int = 10,
        shutdown_grace: float = 30.0,
        poll_wait: float = 25.0,
        refuses: Callable[[BaseException], bool] = key_refused,
        reports_after_grace: float = 0.0,
        hurried_report_grace: float = HURRIED_REPORT_GRACE,
    ) -> None:
        self.client = client
        self.executor = executor
        self.scopes = list(scopes)
        self.voice = voice
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.shutdown_grace = shutdown_grace
        self.poll_wait = poll_wait
        self.refuses = refuses
        self.reports_after_grace = reports_after_grace
        self.hurried_report_grace = hurried_report_grace
        self.abort = Abort()  # give up on the running runs
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()  # second stop request: stop waiting
        self._slot_freed = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._server_back = Pulse()
        self._delivery = Delivery(client, voice, self._server_back)
        self._running: dict[int, asyncio.Task[None]] = {}
        self._aborts: dict[int, Abort] = {}  # per running run: cancelled when it is
        self._cancel_watch = CancelWatch(client, voice, self._aborts)
        self._crashed: set[int] = set()
        self._fatal: BaseException | None = None
        self._stop_requested_at: float | None = None  # monotonic time of the first request
        self.lost_reports: list[int] = []

    # -- public ----------------------------------------------------------------------------
    def request_stop(self, reason: str = "stop requested") -> None:
        """First call: stop pulling, let running runs finish within the grace. Second call:
        give up on them now (``reason`` is a signal name or who asked, e.g. "stop()")."""
        now = time.monotonic()
        if self._stopping.is_set():
            if self._hurry.is_set():
                self.voice.hurried_again(reason)
                return
            self.voice.hurrying(reason)
            first = self._stop_requested_at
            after = f" {now - first:.1f}s after the first" if first is not None else ""
            what = "signal" if reason.startswith("SIG") else "stop request"
            self.abort.set(f"interrupted by a second {what} ({reason}){after}")
            self._hurry.set()
            return
        self._stop_requested_at = now
        self.voice.stopping(reason, self.shutdown_grace, len(self._running))
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def unreported(self) -> list[int]:
        return sorted(self._delivery.unreported)

    async def prepare(self) -> None:
        """Before the first pull (a subclass's: define jobs, check a list); may raise
        ``Stopped`` (see ``until_stopped``) or a refusal, which ends ``run()``."""

    async def run(self) -> int:
        """Prepare, pull and run until stopped; 0 after a clean stop, 1 if results could not
        be reported. Raises a refusal of ``prepare()`` or one that ``refuses`` names."""
        try:
            with contextlib.suppress(Stopped):
                await self.prepare()
            if not self._stopping.is_set():
                self.voice.serving(self.worker_id, self.concurrency, self.client.base_url)
                self._cancel_watch.start()
                await asyncio.gather(*(self._pull_loop(s) for s in self.scopes))
        except asyncio.CancelledError:
            self.abort.set("the worker's task was cancelled")
            self._hurry.set()
            raise
        finally:
            await self._drain()
        if self._fatal is not None:
            raise self._fatal
        if self.lost_reports:
            return 1
        self.voice.stopped()
        return 0

    async def until_stopped(self, aw: Awaitable[T]) -> T:
        """Await ``aw`` unless a stop request comes first (then cancel it, raise Stopped).
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
        raise Stopped

    # -- pulling ---------------------------------------------------------------------------
    async def _pull_loop(self, scope: PullScope) -> None:
        backoff = reconnect_backoff()
        with contextlib.suppress(Stopped):
            while not self._stopping.is_set():
                free = min(self.concurrency - len(self._running), MAX_PULL)
                if free <= 0:
                    self._slot_freed.clear()
                    await self.until_stopped(self._slot_freed.wait())
                    continue
                for execution in await self._pull(scope, free, backoff):
                    self._start(execution)

    async def _pull(self, scope: PullScope, free: int, backoff: Backoff) -> list[Execution]:
        """One pull; after a failure, none (once its backoff is waited out). Raises
        ``Stopped`` when stopped, or stopping for a refusal."""
        # after failures, a pull that answers at once: the server's return is noticed (and
        # the reports waiting out their backoff woken) without a long poll's wait
        wait = 0 if backoff.failures else self.poll_wait
        if scope.agent_host or scope.agent_tags:
            pull = self.client.pull_executions(
                scope.jobs, wait=wait, limit=free, worker_id=self.worker_id,
                job_type=scope.job_type, agent_host=scope.agent_host, agent_tags=scope.agent_tags,
            )
        else:
            pull = self.client.pull_executions(
                scope.jobs, wait=wait, limit=free, worker_id=self.worker_id,
                job_type=scope.job_type,
            )
        try:
            runs = await self.until_stopped(pull)
        except Stopped:
            raise
        except Exception as exc:
            if self.refuses(exc):
                self.voice.pull_refused(exc)
                self._fatal = self._fatal or exc
                self._stopping.set()
                raise Stopped from None
            delay = retry_delay(exc, backoff)
            self.voice.pull_failed(exc, delay)
            await self.until_stopped(self._server_back.wait(delay))  # a report may end it
            return []
        if backoff.failures:
            self.voice.reconnected(self.client.base_url, backoff.failures)
            backoff.reset()
            self._server_back.notify()
        return runs

    # -- running ---------------------------------------------------------------------------
    def _start(self, execution: Execution) -> None:
        if execution.id in self._running or self._delivery.holds(execution.id):
            self.voice.handed_twice(execution.id)
            return
        task = asyncio.create_task(self._execute(execution), name=f"schedo-run-{execution.id}")
        self._running[execution.id] = task

        def done(_t: asyncio.Task[None]) -> None:
            self._running.pop(execution.id, None)
            self._slot_freed.set()

        task.add_done_callback(done)

    async def _execute(self, execution: Execution) -> None:
        async with self._slots:  # several pull loops may together claim a few runs too many
            abort = self.abort.child()
            self._aborts[execution.id] = abort
            self._cancel_watch.changed()
            try:
                outcome = await self.executor.run(execution, abort)
            except Exception:  # a bug must not end the runtime silently
                self.voice.run_crashed(execution.id)
                self._crashed.add(execution.id)
                return
            finally:
                self._aborts.pop(execution.id, None)
                self.abort.forget(abort)
        if outcome is not None:
            self._delivery.submit(execution.id, outcome)

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
            still = sum(not t.done() for t in running)
            if still:
                self.voice.giving_up(still)
                # each is reported failed by its own task
                self.abort.set(f"shutdown grace {format_seconds(self.shutdown_grace)} expired")
                await asyncio.wait(running, timeout=10)
        reports = self._delivery.tasks()
        if reports:
            until = max(grace_end + self.reports_after_grace, loop.time() + REPORT_GRACE)
            await self._wait_tasks(reports, until)
            if self._hurry.is_set():  # a second request: one short last chance to report
                await self._wait_tasks(
                    self._delivery.tasks(),
                    loop.time() + self.hurried_report_grace,
                    hurry_ends=False,
                )
        await self._cancel_watch.stop()
        leftovers = [*self._running.values(), *self._delivery.tasks()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=5)
        await self.executor.close()
        lost = sorted({*self._delivery.unreported, *self._crashed})
        if lost:
            self.lost_reports = lost
            self.voice.lost(lost)


def default_logging() -> None:
    """One line per event on stderr, unless the application configured logging itself."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
