"""Heartbeat jobs (type ``heartbeat``), as pure rules: Schedo runs nothing, an outside job
pings (healthchecks.io-compatible URLs, ``api/ping.py``).

A heartbeat job ticks like any job. Each tick makes a *waiting* run (pending) whose window
is ``grace_seconds``: a ping must come by ``due + grace`` or the reaper expires the run as
missed (a failed run: the job's alert rules apply). A heartbeat job waits for one ping at a
time (it is blocking): a tick that comes while a run still waits is recorded as skipped.

Pings (``Ping.kind``):

- ``start``: the waiting run starts (``running``, its start time now); the finish must then
  come within ``grace_seconds``. With a run id (``rid``) the run remembers it.
- ``success`` / ``fail`` / an exit status (0 = success): the run ends with the ping's body as
  its output (capped) and the exit status; a started run's duration is start → finish.
  With ``rid`` the run started with that rid ends, else the oldest waiting or running run.
- ``log``: the body is added to the output of the run that is waiting or running (nothing
  changes if none is).

A ping that finds no run to act on makes one: the upcoming tick's run when the tick is at
most ``EARLY_SECONDS`` away (a crontab a little ahead of the server's clock; the tick then
finds its run already made), else a run of its own now (trigger ``ping``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .model import RunStatus
from .records import Completion, Job, Run
from .text import digits

OUTPUT_MAX_BYTES = 10 * 1024  # of a ping's body kept as the run's output
EARLY_SECONDS = 15  # a crontab whose clock is a little ahead of the server
DEFAULT_GRACE_SECONDS = 3600  # as healthchecks.io
GRACE_MAX_SECONDS = 30 * 24 * 3600


class PingKind(StrEnum):
    SUCCESS = "success"
    FAIL = "fail"
    START = "start"
    LOG = "log"


@dataclass(frozen=True, slots=True)
class Ping:
    kind: PingKind
    rid: str | None = None
    body: str | None = None
    exit_code: int | None = None

    @property
    def ends(self) -> bool:
        return self.kind in (PingKind.SUCCESS, PingKind.FAIL)

    @property
    def success(self) -> bool:
        return self.kind is PingKind.SUCCESS


def parse_action(action: str | None) -> Ping | None:
    """The ping an URL's last segment asks for (None: not a ping action). An exit status
    0-255: 0 is success, anything else a failure with that exit code."""
    if action is None or action == "":
        return Ping(PingKind.SUCCESS)
    if action in ("start", "fail", "log"):
        return Ping(PingKind(action))
    if digits(action) and len(action) <= 3 and int(action) <= 255:
        code = int(action)
        return Ping(PingKind.SUCCESS if code == 0 else PingKind.FAIL, exit_code=code)
    return None


def body_text(raw: bytes) -> str | None:
    """A ping's body as output: at most OUTPUT_MAX_BYTES of UTF-8 (invalid bytes replaced),
    cut at a character boundary and marked; None when empty."""
    if not raw:
        return None
    cut = raw[:OUTPUT_MAX_BYTES]
    text = cut.decode("utf-8", "ignore" if len(raw) > OUTPUT_MAX_BYTES else "replace")
    text = text.replace("\x00", "\ufffd")
    return text + "\n… [truncated]" if len(raw) > OUTPUT_MAX_BYTES else text


def target(live: Sequence[Run], ping: Ping) -> Run | None:
    """The run a ping acts on among the job's waiting and running runs.

    ``start``: the oldest waiting (pending) run. An ending or log ping with a ``rid``: the
    run started with that rid (None if there is none: a finish never ends another
    invocation's run); without: the oldest running run, else the oldest waiting one."""
    ordered = sorted(live, key=lambda r: (r.scheduled_for, r.id))
    if ping.kind is PingKind.START:
        return next((r for r in ordered if r.status is RunStatus.PENDING), None)
    if ping.rid is not None:
        return next((r for r in ordered if r.metadata.get("rid") == ping.rid), None)
    running = [r for r in ordered if r.status is RunStatus.RUNNING]
    pool = running or ordered
    return pool[0] if pool else None


def upcoming(next_run_at: datetime | None, now: datetime) -> datetime | None:
    """The tick instant an early ping may take (within EARLY_SECONDS), else None."""
    if next_run_at is not None and now < next_run_at <= now + timedelta(seconds=EARLY_SECONDS):
        return next_run_at
    return None


def append_log(output: str | None, body: str | None) -> str | None:
    """A run's output with a log ping's body added (the whole kept within the cap)."""
    if not body:
        return output
    joined = f"{output}\n{body}" if output else body
    raw = joined.encode()
    if len(raw) <= OUTPUT_MAX_BYTES:
        return joined
    return raw[:OUTPUT_MAX_BYTES].decode("utf-8", "ignore") + "\n… [truncated]"


def missed_reason(ex: Run) -> str:
    """Why a heartbeat run expired (its ``timeout_seconds`` holds the job's grace)."""
    if ex.pick_up_time is None:
        return (f"missed: no ping within the grace time ({ex.timeout_seconds}s) after "
                f"{ex.due_at.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    return (f"missed: started but no finish ping within the grace time "
            f"({ex.timeout_seconds}s)")


def start_deadline(job: Job, now: datetime) -> datetime:
    """The run deadline a start ping sets: the job's grace (else its timeout) from now."""
    return now + timedelta(seconds=job.grace_seconds or job.timeout_seconds)


def start_metadata(run: Run, ping: Ping) -> dict[str, Any]:
    """The run's metadata once a start ping names its invocation (``rid``)."""
    return {**run.metadata, "rid": ping.rid} if ping.rid else run.metadata


def failure(ping: Ping) -> str:
    """The error a failure ping gives its run."""
    if ping.exit_code is not None:
        return f"the job pinged exit status {ping.exit_code}"
    return "the job pinged a failure"


def report(ping: Ping, run: Run, now: datetime) -> Completion:
    """The report a success or failure ping makes of ``run`` (ended now; started at its
    start ping, else now): ``lifecycle.end_run`` ends the run with it."""
    return Completion(
        success=ping.success, output=ping.body, exit_code=ping.exit_code,
        error=None if ping.success else failure(ping), start_time=run.start_time or now,
        end_time=now)
