"""``Worker``: the worker runtime (``runtime.py``) as ``Schedo.run()`` and ``schedo worker``
run it: a Python app's handlers (``handlers.HandlerExecutor``), pulled by job code.

- Defines every job (``POST /jobs/definition``) before pulling, in the app's order,
  ``DEFINE_CONCURRENCY`` at a time; a refused definition (4xx) stops the worker with the
  server's message, an unreachable server is retried.
- Pulls the runs of its job codes, split into groups that fit one request line
  (``code_groups``), one pull loop each, sending a random ``x-schedo-worker-id`` per process.
- A pull refused for its key (401/403) stops the worker; other failures are retried.
- At the shutdown, the reports get at least ``REPORT_GRACE`` (5 s) after the last handler
  ended, and ``HURRIED_REPORT_GRACE`` (2 s) more after a second stop request (a second
  SIGTERM/SIGINT, e.g. Ctrl-C twice): handlers still running are then given up (async ones
  cancelled; a sync handler's thread cannot be stopped and is left to die with the process)
  and reported failed with ``WorkerShutdown: ... (interrupted by a second signal (SIGINT)
  8.0s after the first)``.

The rest (pulling, backoff, reporting, shutdown) is the runtime's: see ``runtime.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from urllib.parse import quote

from ..limits import PULL_JOBS_MAX_CHARS, PULL_MAX_CODES
from .async_client import AsyncClient
from .backoff import reconnect_backoff, retry_delay, retryable
from .definition import JobDefinition, define_waves
from .errors import ApiError, Forbidden, Unauthorized
from .handlers import HandlerExecutor
from .live_log import LiveLog
from .runtime import HURRIED_REPORT_GRACE as HURRIED_REPORT_GRACE
from .runtime import MAX_PULL as MAX_PULL
from .runtime import REPORT_GRACE as REPORT_GRACE
from .runtime import PullScope, Runtime, Stopped
from .voice import Voice

# characters of ``jobs=a,b,…`` in one pull, a little under the server's PULL_JOBS_MAX_CHARS
MAX_CODES_CHARS = PULL_JOBS_MAX_CHARS - 768
MAX_CODES_URL = 48_000  # the same, percent-encoded (HTTP servers refuse lines over ~64 KiB)
MAX_CODES_PER_PULL = PULL_MAX_CODES  # the server's cap on the codes of one pull
DEFINE_CONCURRENCY = 8

log = logging.getLogger("schedo.worker")
_PROCESS_ID: tuple[int, str] | None = None


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


def process_worker_id() -> str:
    """One id per process (``x-schedo-worker-id``): ``<host>-<pid>-<random>``, so a run
    shows which process on which host holds it; a forked child gets its own."""
    global _PROCESS_ID
    pid = os.getpid()
    if _PROCESS_ID is None or _PROCESS_ID[0] != pid:
        host = socket.gethostname()[:120] or "host"
        _PROCESS_ID = (pid, f"{host}-{pid}-{uuid.uuid4().hex[:8]}")
    return _PROCESS_ID[1]


class Worker(Runtime):
    """Runs the handlers of ``jobs`` (an app's ``Schedo.jobs``) until stopped: ``run()``
    returns 0 after a clean stop, 1 if results could not be reported, and raises a refused
    definition or key."""

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
        super().__init__(
            client,
            HandlerExecutor(self.jobs, LiveLog(client)),
            [PullScope(tuple(group)) for group in code_groups(self.jobs)],
            voice=Voice(log, ", ".join(sorted(self.jobs))),
            worker_id=worker_id or process_worker_id(),
            concurrency=concurrency,
            shutdown_grace=shutdown_grace,
            poll_wait=poll_wait,
        )

    async def prepare(self) -> None:
        await self._define_all()

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
                if refused.is_set() or self.stopping:
                    return  # not sent
                try:
                    if await self._define(d, refused):
                        defined.append(d.name)
                except Exception as exc:
                    refusals.append(exc)
                    refused.set()

        # jobs that run after others are defined after them (the server checks that the
        # upstream jobs exist): one wave after another
        for wave in define_waves(self.jobs.values()):
            tasks = [asyncio.create_task(one(d)) for d in wave]
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
        while not self.stopping and not refused.is_set():
            try:
                job = await self.until_stopped(
                    self.client.define_job(
                        d.name,
                        d.schedule,
                        blocking=d.blocking if d.overlap is None else None,
                        metadata=d.metadata,
                        timeout_seconds=d.timeout_seconds,
                        max_retries=d.max_retries,
                        timezone=d.timezone,
                        catch_up=d.catch_up,
                        jitter_seconds=d.jitter_seconds or None,
                        overlap=d.overlap,
                        max_concurrency=d.max_concurrency,
                        after=d.after,
                        **d.alerts,
                    )
                )
            except Stopped:
                return False
            except (Unauthorized, Forbidden):
                raise  # about the key, not about this job
            except Exception as exc:
                if not retryable(exc):
                    if isinstance(exc, ApiError):
                        raise type(exc)(exc.status, f"job {d.name!r}: {exc.message}") from None
                    raise
                delay = retry_delay(exc, backoff)
                log.warning("defining job %s failed (%s); retrying in %.1fs", d.name, exc, delay)
                with contextlib.suppress(TimeoutError, Stopped):
                    await self.until_stopped(asyncio.wait_for(refused.wait(), delay))
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
