"""``schedo agent``: run ``command`` jobs on this machine.

The agent long-polls the server for command runs (``GET /jobs/executions?type=command``,
optionally ``&jobs=a,b``; the SDK's ``pull_executions`` has no ``type`` parameter, so the
call is described here as an SDK ``Call`` and sent through ``AsyncClient.send``). Every
returned run is already claimed for this agent. For each run it:

1. loads the job (``GET /jobs/{id}``): the ``command`` and ``timeout_seconds`` live on the job;
2. runs ``/bin/sh -c <command>`` in a new session (its own process group), stdin from
   /dev/null, stdout and stderr interleaved in one pipe. The agent's environment is passed on
   without ``SCHEDO_API_KEY``/``SCHEDO_ADMIN_KEY``, plus ``SCHEDO_EXECUTION_ID``,
   ``SCHEDO_JOB_ID``, ``SCHEDO_JOB_NAME``, ``SCHEDO_ATTEMPT``, ``SCHEDO_TRIGGER`` and
   ``SCHEDO_SCHEDULED_FOR``;
3. keeps at most 64 KiB of output: the first and the last 32 KiB, with a marker saying how
   many bytes were left out in between (the tail is where errors usually are);
4. enforces ``timeout_seconds``: SIGTERM to the whole process group, SIGKILL to the group
   ``KILL_GRACE`` (5 s) later if anything in it is still alive, so a command that ignores
   SIGTERM and its children are all killed. The run is reported as soon as the command has
   exited after SIGTERM, or at most ``REPORT_WAIT`` (2 s) after the timeout, because the
   server expires a run that is not reported within ``timeout_seconds`` + 5 s;
5. reports with ``POST /jobs/executions/complete/{id}``: success is exit code 0; ``output``;
   ``error`` ("exit code 3", "killed by signal 9 (SIGKILL)", "timed out after 10s");
   ``exit_code`` (a signal N is reported the shell's way, 128 + N); start and end in Unix ms.
   Reports are retried with backoff (0.5 s doubling, capped at 5 s, jittered: see
   ``schedo.sdk.backoff``) until the server answers: 2xx is done, 404/409 and other 4xx are
   logged and dropped.

When the leader process exits normally, background processes it left in the group are not
killed (as with cron); the agent reads their output for at most one more second.

Shutdown (SIGTERM or SIGINT): stop pulling, wait up to ``--grace`` (30 s) for running
commands, report them, exit 0. Commands still running when the grace ends (or at once on a
second signal) are terminated like a timeout and reported failed ("interrupted: the agent shut
down"). Reports get ``REPORT_GRACE`` (5 s) more; a result that still could not be reported is
logged and the agent exits 1.

An unreachable server (or 5xx, 429) is retried with the same backoff, so the agent is back
at most ~5 s after the server; one log line per failure and one when it answers again. A
refused pull ends the agent: 401/403 exit 4, other 4xx exit 1 (a bad ``--jobs`` list: exit
2). One log line (stderr) per run start and per run end.

``--jobs`` is checked before the first pull (``GET /jobs``, retried while the server cannot
answer): a name that is not a command job of the environment (unknown, or an sdk or push
job, which the agent would never be handed) is a usage error, one line naming each such
name, exit 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Annotated, Any

import typer

from ..sdk.backoff import reconnect_backoff
from ..sdk.calls import POLL_SLACK, WORKER_ID_HEADER, Call
from ..sdk.client import AsyncClient
from ..sdk.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    RateLimited,
    SchedoError,
    ServerError,
    Unauthorized,
)
from ..sdk.models import Execution, Job
from .support import (
    DEFAULT_URL,
    EXIT_API,
    EXIT_AUTH,
    EXIT_USAGE,
    CliError,
    EnvOption,
    KeyOption,
    UrlOption,
    describe_error,
    duration,
    fail,
    shorten,
)

log = logging.getLogger("schedo.agent")

OUTPUT_LIMIT = 64 * 1024  # bytes of output kept per run (the server keeps 64 KiB too)
KILL_GRACE = 5.0  # seconds between SIGTERM and SIGKILL to the process group
REPORT_WAIT = 2.0  # after a timeout's SIGTERM, how long the report waits for the exit
DRAIN_WAIT = 1.0  # reading output after the command exited (children may hold the pipe)
SHUTDOWN_GRACE = 30.0
REPORT_GRACE = 5.0
POLL_WAIT = 25.0
SHELL = "/bin/sh"
HIDDEN_ENV = ("SCHEDO_API_KEY", "SCHEDO_ADMIN_KEY")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# -- output capture ----------------------------------------------------------------------------


class Capture:
    """Keeps the first and the last ``limit / 2`` bytes of a stream, counting what is left
    out in between, so memory stays bounded whatever the command prints."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.half = max(1, (limit - 100) // 2)  # room for the "bytes omitted" marker
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.omitted = 0

    def feed(self, data: bytes) -> None:
        if len(self.head) < self.half:
            room = self.half - len(self.head)
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            excess = len(self.tail) - self.half
            if excess > 0:
                self.omitted += excess
                del self.tail[:excess]

    def text(self) -> str:
        if not self.omitted:
            return bytes(self.head + self.tail).decode("utf-8", "replace")
        head = bytes(self.head).decode("utf-8", "replace")
        tail = bytes(self.tail).decode("utf-8", "replace")
        marker = f"\n… [{self.omitted} bytes of output omitted] …\n"
        # Undecodable bytes grow on decoding (U+FFFD is 3 bytes): trim to stay in the limit.
        while len((head + marker + tail).encode()) > self.limit and tail:
            tail = tail[len(tail) // 8 + 1 :]
        return head + marker + tail


async def _read(stream: asyncio.StreamReader, capture: Capture) -> None:
    while chunk := await stream.read(65536):
        capture.feed(chunk)


# -- running one command -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    success: bool
    output: str
    error: str | None
    exit_code: int | None
    start_ms: int
    end_ms: int


def exit_status(returncode: int) -> int:
    """A returncode as a shell reports it: -N (killed by signal N) becomes 128 + N."""
    return returncode if returncode >= 0 else 128 - returncode


def describe_exit(returncode: int) -> str:
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "unknown signal"
    return f"killed by signal {-returncode} ({name})"


def format_seconds(seconds: float) -> str:
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds:.1f}s"


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _terminate_group(
    pgid: int, exited: asyncio.Task[int], reader: asyncio.Task[None], grace: float
) -> None:
    """SIGTERM was sent; SIGKILL the group after ``grace`` seconds unless it is empty by then,
    then stop reading its output."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if exited.done() and not _group_alive(pgid):
            break
        await asyncio.sleep(0.1)
    else:
        log.info(
            "process group %d still alive %s after SIGTERM: SIGKILL", pgid, format_seconds(grace)
        )
        _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(exited, 5.0)
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(reader, DRAIN_WAIT)


async def run_command(
    command: str,
    time_limit: float,
    *,
    env: Mapping[str, str] | None = None,
    abort: asyncio.Event | None = None,
    reapers: set[asyncio.Task[None]] | None = None,
    kill_grace: float = KILL_GRACE,
    report_wait: float = REPORT_WAIT,
) -> Outcome:
    """Run ``command`` with ``/bin/sh -c`` in its own process group, at most ``time_limit``
    seconds, and return its outcome.

    ``abort`` ends it early (like a timeout, reported as interrupted). The task that kills the
    group after a timeout may outlive this call; it is added to ``reapers``.
    """
    start_ms = _now_ms()
    try:
        proc = await asyncio.create_subprocess_exec(
            SHELL, "-c", command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else None,
        )  # fmt: skip
    except OSError as exc:
        return Outcome(False, "", f"cannot start {SHELL}: {exc}", None, start_ms, _now_ms())
    pgid = proc.pid  # leader of its own new session, hence of its own group
    capture = Capture()
    assert proc.stdout is not None
    reader = asyncio.create_task(_read(proc.stdout, capture))
    exited = asyncio.create_task(proc.wait())
    waiters: set[asyncio.Future[Any]] = {exited}
    aborted = asyncio.create_task(abort.wait()) if abort is not None else None
    if aborted is not None:
        waiters.add(aborted)
    try:
        await asyncio.wait(waiters, timeout=time_limit, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if aborted is not None:
            aborted.cancel()
    if exited.done():
        rc = exited.result()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader, DRAIN_WAIT)
        ok = rc == 0
        return Outcome(
            ok,
            capture.text(),
            None if ok else describe_exit(rc),
            exit_status(rc),
            start_ms,
            _now_ms(),
        )
    if abort is not None and abort.is_set():
        reason = "interrupted: the agent shut down before the command finished"
    else:
        reason = f"timed out after {format_seconds(time_limit)}"
    end_ms = _now_ms()
    _signal_group(pgid, signal.SIGTERM)
    killer = asyncio.create_task(_terminate_group(pgid, exited, reader, kill_grace))
    if reapers is not None:
        reapers.add(killer)
        killer.add_done_callback(reapers.discard)
    code: int | None = None
    with contextlib.suppress(TimeoutError):
        code = exit_status(await asyncio.wait_for(asyncio.shield(exited), report_wait))
    if code is not None:  # its last words, unless children still hold the pipe
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), 0.5)
    return Outcome(False, capture.text(), reason, code, start_ms, end_ms)


# -- the agent ---------------------------------------------------------------------------------


def _executions(data: Any) -> list[Execution]:
    if not isinstance(data, list):
        raise TypeError(f"expected a list, got {type(data).__name__}")
    return [Execution.from_json(x) for x in data]


def pull_call(
    jobs: list[str] | None, wait: float, limit: int, worker_id: str
) -> Call[list[Execution]]:
    """``GET /jobs/executions?type=command[&jobs=a,b]&wait=W&limit=N`` (agents' long poll)."""
    params: dict[str, str | int | float] = {"type": "command", "wait": wait, "limit": limit}
    if jobs:
        params["jobs"] = ",".join(jobs)
    return Call(
        "GET",
        "/jobs/executions",
        _executions,
        params=params,
        headers={WORKER_ID_HEADER: worker_id},
        timeout=wait + POLL_SLACK,
    )


class Agent:
    """Pulls command runs and runs up to ``concurrency`` of them at once (see the module
    docstring for the whole contract)."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        jobs: list[str] | None = None,
        concurrency: int = 4,
        grace: float = SHUTDOWN_GRACE,
        wait: float = POLL_WAIT,
        kill_grace: float = KILL_GRACE,
    ) -> None:
        self.client = client
        self.jobs = jobs
        self.concurrency = concurrency
        self.grace = grace
        self.wait = wait
        self.kill_grace = kill_grace
        self.worker_id = f"agent-{socket.gethostname()}-{os.getpid()}"
        self._stop = asyncio.Event()
        self._abort = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._reapers: set[asyncio.Task[None]] = set()
        self._report_deadline: float | None = None
        self._signals = 0
        self._unreported = 0
        self._exit_code = 0

    # -- control -------------------------------------------------------------------------------
    def request_stop(self, why: str = "stop requested") -> None:
        """First call: stop pulling and let running commands finish within the grace.
        Second call: end running commands now."""
        self._signals += 1
        if self._signals == 1:
            log.info(
                "%s: no new runs; waiting up to %s for %d running command(s)",
                why,
                format_seconds(self.grace),
                len(self._running),
            )
            self._stop.set()
        else:
            log.info("%s again: ending running commands now", why)
            self._abort.set()
            now = time.monotonic()
            if self._report_deadline is None or self._report_deadline > now + REPORT_GRACE:
                self._report_deadline = now + REPORT_GRACE

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.request_stop, sig.name)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            if self.jobs and not await self._check_jobs(self.jobs):
                return self._exit_code  # stopped before the server answered
            await self._pull_loop()
            return await self._shutdown()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def _until_stopped(self, aw: Awaitable[Any]) -> bool:
        """Wait for ``aw`` unless a stop comes first (then ``aw`` is cancelled); True if
        stopped."""
        task = asyncio.ensure_future(aw)
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        return self._stop.is_set()

    # -- the --jobs list ------------------------------------------------------------------------
    async def _check_jobs(self, names: list[str]) -> bool:
        """Every name of ``--jobs`` must be a command job of the environment. Raises
        ``CliError`` (exit 2) naming each one that is not (unknown, or an sdk or push job),
        4 for a refused key, 1 for another refusal; retries while the server cannot answer.
        False if stopped first."""
        backoff = reconnect_backoff()
        while True:
            listing = asyncio.ensure_future(self.client.list_jobs())
            if await self._until_stopped(listing):
                return False
            try:
                jobs = listing.result()
                break
            except (ConnectionFailed, ServerError, RateLimited) as exc:
                delay = backoff.next()
                if isinstance(exc, RateLimited) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                log.warning(
                    "cannot check the --jobs list: %s; retrying in %.1fs", describe_error(exc),
                    delay,
                )  # fmt: skip
                if await self._until_stopped(asyncio.sleep(delay)):
                    return False
            except (Unauthorized, Forbidden) as exc:
                raise CliError(
                    f"the server refused the API key: {describe_error(exc)}", EXIT_AUTH
                ) from None
            except SchedoError as exc:
                raise CliError(f"cannot check the --jobs list: {describe_error(exc)}") from None
        types = {j.name: j.type for j in jobs}
        problems = []
        for name in names:
            kind = types.get(name)
            if kind is None:
                problems.append(f"{name!r}: no such job in this environment")
            elif kind != "command":
                article = "an" if kind in ("sdk", "api") else "a"  # "an sdk job"
                problems.append(f"{name!r} is {article} {kind} job, not a command job")
        if problems:
            raise CliError("--jobs: " + "; ".join(problems), EXIT_USAGE)
        return True

    # -- pulling -------------------------------------------------------------------------------
    async def _pull_loop(self) -> None:
        what = ",".join(self.jobs) if self.jobs else "every command job"
        log.info(
            "agent %s pulling command runs of %s from %s (concurrency %d)",
            self.worker_id,
            what,
            self.client.base_url,
            self.concurrency,
        )
        backoff = reconnect_backoff()
        while not self._stop.is_set():
            free = self.concurrency - len(self._running)
            if free <= 0:
                self._slot_freed.clear()
                await self._until_stopped(self._slot_freed.wait())
                continue
            wait = 0 if backoff.failures else self.wait  # after failures: answer at once
            poll = asyncio.create_task(
                self.client.send(pull_call(self.jobs, wait, free, self.worker_id))
            )
            await self._until_stopped(poll)
            if poll.cancelled():
                return  # stopped (the server claims nothing for a poll whose client left)
            try:
                executions = poll.result()
            except (ConnectionFailed, ServerError, RateLimited) as exc:
                delay = backoff.next()
                if isinstance(exc, RateLimited) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                log.warning("cannot pull runs: %s; retrying in %.1fs", describe_error(exc), delay)
                await self._until_stopped(asyncio.sleep(delay))
                continue
            except (Unauthorized, Forbidden) as exc:
                log.error("the server refused the key: %s", describe_error(exc))
                self._exit_code = EXIT_AUTH
                return
            except ApiError as exc:
                log.error("the server refused the pull: %s", describe_error(exc))
                self._exit_code = EXIT_USAGE if isinstance(exc, BadRequest) else EXIT_API
                return
            except SchedoError as exc:
                delay = backoff.next()
                log.warning("bad pull answer: %s; retrying in %.1fs", exc, delay)
                await self._until_stopped(asyncio.sleep(delay))
                continue
            if backoff.failures:
                log.info("the server answers again")
                backoff.reset()
            for execution in executions:
                self._spawn(execution)

    def _spawn(self, execution: Execution) -> None:
        task = asyncio.create_task(self._handle(execution))
        self._running.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._running.discard(t)
            self._slot_freed.set()

        task.add_done_callback(done)

    # -- one run -------------------------------------------------------------------------------
    async def _handle(self, e: Execution) -> None:
        reported = False
        try:
            job = await self._load_job(e)
            if job is None:
                reported = True  # nothing to report to
                return
            if not job.command:
                now = _now_ms()
                outcome = Outcome(False, "", "the job has no command", None, now, now)
            else:
                log.info(
                    "run %d of %s started (attempt %d, %s): %s",
                    e.id,
                    job.name,
                    e.attempt,
                    e.trigger,
                    shorten(job.command, 100),
                )
                outcome = await run_command(
                    job.command, job.timeout_seconds, env=self._env_for(e, job),
                    abort=self._abort, reapers=self._reapers, kill_grace=self.kill_grace,
                )  # fmt: skip
            took = duration(outcome.end_ms - outcome.start_ms)
            if outcome.success:
                log.info("run %d of %s completed in %s (exit code 0)", e.id, job.name, took)
            else:
                log.info("run %d of %s failed after %s: %s", e.id, job.name, took, outcome.error)
            reported = await self._report(e, outcome)
        except Exception:  # a bug must not kill the agent silently
            log.exception("run %d: unexpected error", e.id)
        finally:
            if not reported:
                self._unreported += 1

    async def _load_job(self, e: Execution) -> Job | None:
        backoff = reconnect_backoff()
        while True:
            try:
                if e.job_id:
                    return (await self.client.get_job(e.job_id)).job
                for job in await self.client.list_jobs():
                    if job.name == e.job_code:
                        return job
                raise NotFound(404, f"job {e.job_code!r} not found")
            except (ConnectionFailed, ServerError, RateLimited) as exc:
                if self._abort.is_set():
                    log.error(
                        "run %d: cannot load its job (%s); not run", e.id, describe_error(exc)
                    )
                    return None
                delay = backoff.next()
                log.warning(
                    "run %d: cannot load its job (%s); retrying in %.1fs",
                    e.id,
                    describe_error(exc),
                    delay,
                )
                await asyncio.sleep(delay)
            except ApiError as exc:
                log.error(
                    "run %d: cannot load job %s (%s); not run",
                    e.id,
                    e.job_code,
                    describe_error(exc),
                )
                return None

    def _env_for(self, e: Execution, job: Job) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in HIDDEN_ENV}
        scheduled = e.scheduled_for
        env.update(
            SCHEDO_EXECUTION_ID=str(e.id),
            SCHEDO_JOB_ID=str(job.id),
            SCHEDO_JOB_NAME=job.name,
            SCHEDO_ATTEMPT=str(e.attempt),
            SCHEDO_TRIGGER=e.trigger,
            SCHEDO_SCHEDULED_FOR=(
                scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if scheduled else ""
            ),
        )
        return env

    async def _report(self, e: Execution, outcome: Outcome) -> bool:
        """Report until the server answers; False if the result was lost (shutdown)."""
        backoff = reconnect_backoff()
        while True:
            try:
                await self.client.complete_execution(
                    e.id, outcome.success, output=outcome.output, error=outcome.error,
                    start_ms=outcome.start_ms, end_ms=outcome.end_ms, exit_code=outcome.exit_code,
                )  # fmt: skip
                if backoff.failures:
                    log.info("run %d reported", e.id)
                return True
            except (NotFound, Conflict) as exc:
                log.warning("run %d: report dropped: %s", e.id, describe_error(exc))
                return True
            except (ConnectionFailed, ServerError, RateLimited) as exc:
                delay = backoff.next()
                if isinstance(exc, RateLimited) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                problem = describe_error(exc)
            except ApiError as exc:
                log.error(
                    "run %d: the server refused the report: %s; dropped", e.id, describe_error(exc)
                )
                return True
            deadline = self._report_deadline
            if deadline is not None:
                delay = min(delay, deadline - time.monotonic())
                if delay <= 0:
                    log.error(
                        "run %d: could not be reported before shutdown (%s); result lost",
                        e.id,
                        problem,
                    )
                    return False
            log.warning("run %d: cannot report (%s); retrying in %.1fs", e.id, problem, delay)
            await asyncio.sleep(delay)

    # -- shutdown ------------------------------------------------------------------------------
    async def _shutdown(self) -> int:
        grace_end = time.monotonic() + self.grace
        if self._report_deadline is None:
            self._report_deadline = grace_end + REPORT_GRACE
        while self._running and not self._abort.is_set():
            left = grace_end - time.monotonic()
            if left <= 0:
                break
            abort = asyncio.create_task(self._abort.wait())
            try:
                await asyncio.wait(
                    {*self._running, abort}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                abort.cancel()
        if self._running:
            log.info("grace over: ending %d running command(s)", len(self._running))
            self._abort.set()
            left = max(self._report_deadline - time.monotonic(), REPORT_WAIT + 1)
            await asyncio.wait(set(self._running), timeout=left)
            for task in list(self._running):
                task.cancel()
            if self._running:
                await asyncio.wait(set(self._running), timeout=1)
        if self._reapers:
            await asyncio.wait(set(self._reapers), timeout=self.kill_grace + DRAIN_WAIT + 6)
        if self._unreported:
            log.error("%d result(s) could not be reported", self._unreported)
            return 1
        log.info("agent stopped")
        return self._exit_code


# -- the command -------------------------------------------------------------------------------


def _parse_jobs(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    codes = [c.strip() for c in raw.split(",") if c.strip()]
    if not codes:
        fail("--jobs: name at least one job (--jobs a,b)", EXIT_USAGE)
    return sorted(set(codes))


def agent(
    jobs: Annotated[
        str | None,
        typer.Option(
            "--jobs", help="Comma-separated job names to run (default: every command job)."
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=100, help="Commands run at once.")
    ] = 4,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0,
            max=3600,
            help="Seconds to let running commands finish on SIGTERM/SIGINT.",
        ),
    ] = SHUTDOWN_GRACE,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
) -> None:
    """Run command jobs: pull their runs and execute them with /bin/sh.

    Exits 0 after SIGTERM/SIGINT once running commands finished and were reported.
    """
    codes = _parse_jobs(jobs)
    if not key:
        fail("no API key: pass --key or set SCHEDO_API_KEY", EXIT_USAGE)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )  # fmt: skip
    log.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise

    async def main() -> int:
        async with AsyncClient(key, url, environment_id=env) as client:
            return await Agent(client, jobs=codes, concurrency=concurrency, grace=grace).run()

    try:
        code = asyncio.run(main())
    except ConfigurationError as exc:
        fail(str(exc), EXIT_USAGE)
    except CliError as exc:  # e.g. a name of --jobs that is not a command job
        fail(exc.message, exc.code)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``schedo agent`` to ``app``."""
    app.command("agent")(agent)
