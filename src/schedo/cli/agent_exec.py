"""The command executor of ``schedo agent``: one run of a ``command`` job on this machine
(the ``Executor`` of the SDK's worker runtime, ``schedo.sdk.runtime``).

For each run it:

1. loads the job (``GET /jobs/{id}``, retried while the server cannot answer): the
   ``command`` and ``timeout_seconds`` live on the job;
2. runs ``/bin/sh -c <command>`` in a new session (its own process group), stdin from
   /dev/null, stdout and stderr interleaved in one pipe. The agent's environment is passed on
   without ``SCHEDO_API_KEY``/``SCHEDO_ADMIN_KEY``, plus ``SCHEDO_EXECUTION_ID``,
   ``SCHEDO_JOB_ID``, ``SCHEDO_JOB_NAME``, ``SCHEDO_ATTEMPT``, ``SCHEDO_TRIGGER`` and
   ``SCHEDO_SCHEDULED_FOR``, and ``SCHEDO_PAYLOAD`` (JSON) when a trigger carried a payload;
3. keeps at most 64 KiB of output: the first and the last 32 KiB, with a marker saying how
   many bytes were left out in between (the tail is where errors usually are); bytes that
   are not UTF-8 become U+FFFD;
4. enforces ``timeout_seconds``: SIGTERM to the whole process group, SIGKILL to the group
   ``KILL_GRACE`` (5 s) later if anything in it is still alive, so a command that ignores
   SIGTERM and its children are all killed. The outcome is returned as soon as the command
   has exited after SIGTERM, or at most ``REPORT_WAIT`` (2 s) after the timeout, because the
   server expires a run that is not reported within ``timeout_seconds`` + 5 s; the killing
   goes on meanwhile (``close()`` waits for it at the shutdown);
5. returns the outcome: success is exit code 0; ``output``; ``error`` ("exit code 3",
   "killed by signal 9 (SIGKILL)", "timed out after 10s", "interrupted: the agent shut
   down before the command finished" when the runtime gave up on it); ``exit_code`` (a signal
   N is reported the shell's way, 128 + N); start and end in Unix ms. The runtime reports it.

A run cancelled on the server (``Abort.cancel``) is ended like a timeout (SIGTERM to the
group, SIGKILL after ``KILL_GRACE``) and nothing is reported: the server already ended it.

While a command runs, its output also goes, line by line, to the run's live output
(``sdk/live_log.LiveLog``: batches every 0.5 s or 64 lines), flushed before the report.

When the leader process exits normally, background processes it left in the group are not
killed (as with cron); the agent reads their output for at most one more second. One log
line (stderr) per run start and per run end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

from .. import limits
from ..limits import OUTPUT_MAX_BYTES
from ..sdk.async_client import AsyncClient
from ..sdk.backoff import reconnect_backoff
from ..sdk.errors import ApiError, ConnectionFailed, NotFound, RateLimited, ServerError
from ..sdk.executor import Abort, Outcome
from ..sdk.live_log import LiveLog
from ..sdk.models import Execution, Job
from .plain import describe_error, duration, shorten

log = logging.getLogger("schedo.agent")

OUTPUT_LIMIT = OUTPUT_MAX_BYTES  # bytes of output kept per run (what the server keeps)
KILL_GRACE = 5.0  # seconds between SIGTERM and SIGKILL to the process group
REPORT_WAIT = 2.0  # after a timeout's SIGTERM, how long the report waits for the exit
DRAIN_WAIT = 1.0  # reading output after the command exited (children may hold the pipe)
SHELL = "/bin/sh"
LIVE_LINE_MAX = limits.LIVE_LINE_MAX  # bytes per live output line (a longer one is split)
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


class Lines:
    """Splits a byte stream into text lines for the live output (``emit(line)``); a partial
    last line is emitted by ``end()``. Lines longer than ``LIVE_LINE_MAX`` bytes are split."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.partial = bytearray()

    def feed(self, data: bytes) -> None:
        self.partial += data
        *done, rest = bytes(self.partial).split(b"\n")
        self.partial = bytearray(rest)
        for line in done:
            self.emit(line.decode("utf-8", "replace"))
        while len(self.partial) > LIVE_LINE_MAX:
            self.emit(bytes(self.partial[:LIVE_LINE_MAX]).decode("utf-8", "replace"))
            del self.partial[:LIVE_LINE_MAX]

    def end(self) -> None:
        if self.partial:
            self.emit(bytes(self.partial).decode("utf-8", "replace"))
            self.partial.clear()


async def _read(stream: asyncio.StreamReader, capture: Capture, lines: Lines | None) -> None:
    while chunk := await stream.read(65536):
        capture.feed(chunk)
        if lines is not None:
            lines.feed(chunk)
    if lines is not None:
        lines.end()


# -- running one command -----------------------------------------------------------------------


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
    on_line: Callable[[str], None] | None = None,
) -> Outcome:
    """Run ``command`` with ``/bin/sh -c`` in its own process group, at most ``time_limit``
    seconds, and return its outcome.

    ``abort`` ends it early (like a timeout, reported as interrupted). The task that kills the
    group after a timeout may outlive this call; it is added to ``reapers``. ``on_line``
    receives each line of output as it comes (the live output).
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
    lines = Lines(on_line) if on_line is not None else None
    reader = asyncio.create_task(_read(proc.stdout, capture, lines))
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


# -- the executor ------------------------------------------------------------------------------


def _took(outcome: Outcome) -> str:
    return duration((outcome.end_ms or 0) - (outcome.start_ms or 0))


class CommandExecutor:
    """Runs the command of each run's job (see the module docstring)."""

    def __init__(self, client: AsyncClient, *, kill_grace: float = KILL_GRACE) -> None:
        self.client = client
        self.kill_grace = kill_grace
        self.live = LiveLog(client)  # the commands' output while they run
        self._reapers: set[asyncio.Task[None]] = set()

    async def run(self, execution: Execution, abort: Abort) -> Outcome | None:
        e = execution
        job = await self._load_job(e, abort)
        if job is None:
            return None  # nothing to report to
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
            self.live.start()
            live = self.live
            outcome = await run_command(
                job.command, job.timeout_seconds, env=self._env_for(e, job),
                abort=abort.event, reapers=self._reapers, kill_grace=self.kill_grace,
                on_line=lambda line: live.write(e.id, "output", line),
            )  # fmt: skip
            await self.live.flush(e.id)
        if abort.cancelled:  # the server ended the run: its process group is being ended
            log.info("run %d of %s cancelled after %s: process group ended, nothing reported",
                     e.id, job.name, _took(outcome))
            return None
        if outcome.success:
            log.info("run %d of %s completed in %s (exit code 0)", e.id, job.name, _took(outcome))
        else:
            log.info(
                "run %d of %s failed after %s: %s", e.id, job.name, _took(outcome), outcome.error
            )
        return outcome

    async def close(self) -> None:
        """Wait for the process groups still being killed after a timeout or the shutdown,
        and send the live output still waiting."""
        await self.live.close()
        if self._reapers:
            await asyncio.wait(set(self._reapers), timeout=self.kill_grace + DRAIN_WAIT + 6)

    async def _load_job(self, e: Execution, abort: Abort) -> Job | None:
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
                if abort.is_set():
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
        if e.payload is not None:  # a manual trigger's payload, as compact JSON
            env["SCHEDO_PAYLOAD"] = json.dumps(e.payload, separators=(",", ":"))
        return env
