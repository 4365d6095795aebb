"""Runs while they run (issue 21): cancelling one, telling its worker, and its live output.

- ``cancel``: a pending or running run ends ``cancelled`` (``lifecycle.cancel``; no retry, no
  alert) and ``bus.runs_cancelled`` wakes the workers watching it, in every server process.
- ``watch_cancelled``: a worker's long poll over the runs it holds; answers with those that
  are cancelled, at once or when a cancellation comes, or ``[]`` after ``wait`` seconds.
- ``append``: a batch of live output lines from a worker or an agent, kept within the per-run
  caps (``LOG_CAPS``; the cut is a visible last line); ``bus.log_appended`` wakes followers.
- ``read`` / ``follow``: what there is, and new lines as they come until the run has ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime

from ...limits import CANCEL_WATCH_MAX_IDS, LIVE_BATCH_MAX_LINES, LIVE_LINE_MAX, MAX_ID
from ..domain.errors import InvalidInput, TooLarge
from ..domain.records import LogLine, Run
from ..domain.timefmt import from_ms
from ..storage.contracts import Appended, LogCaps
from .access import AccessCheck
from .context import Principal, Services

LOG_CAPS = LogCaps(lines=5000, bytes=1_000_000)  # per run; bytes counted as characters
BATCH_MAX_LINES = LIVE_BATCH_MAX_LINES  # lines per ingest request (a larger batch: 413)
LINE_MAX = LIVE_LINE_MAX  # characters per line; a longer line is cut with a marker
STREAMS = ("log", "output")
MAX_WATCH_IDS = CANCEL_WATCH_MAX_IDS
MAX_WAIT = 30.0
READ_MAX = 1000  # lines per read
FOLLOW_RECHECK = 2.0  # seconds: a follower re-reads at least this often (the run may end)
MS_MIN, MS_MAX = 946_684_800_000, 7_258_118_400_000
ANY = frozenset[str]()  # topics of one environment, any job (the watches here take all)


async def cancel(svc: Services, p: Principal, exec_id: int, reason: str | None = None) -> Run:
    if reason is not None and len(reason) > 500:
        raise InvalidInput("reason: at most 500 characters")
    done = await svc.store.cancel(p.env_id, exec_id, svc.clock.now(), reason or None)
    svc.bus.runs_cancelled.notify({p.env_id: ANY})
    svc.bus.log_appended.notify({p.env_id: ANY})
    return done


def check_ids(ids: Sequence[int]) -> list[int]:
    if len(ids) > MAX_WATCH_IDS:
        raise InvalidInput(f"ids: at most {MAX_WATCH_IDS} execution ids")
    for i in ids:
        if not 0 < i <= MAX_ID:
            raise InvalidInput("ids: execution ids are positive integers")
    return sorted(set(ids))


async def watch_cancelled(
    svc: Services, p: Principal, ids: Sequence[int], wait: float,
    abort: asyncio.Event | None = None,
) -> list[int]:
    """Those of ``ids`` that are cancelled, waiting up to ``wait`` seconds for one.
    ``Unauthorized`` as soon as the key is revoked or the environment deleted meanwhile."""
    wanted = check_ids(ids)
    if not wanted:
        return []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, min(wait, MAX_WAIT))
    access = AccessCheck(svc, p, fresh=wait > 0)
    with svc.bus.runs_cancelled.watch(p.env_id, None) as watch:
        while True:
            watch.event.clear()
            await access.check()
            got = await svc.store.cancelled_among(p.env_id, wanted)
            remaining = deadline - loop.time()
            if got or remaining <= 0 or (abort is not None and abort.is_set()):
                return got
            # re-read now and then: a lost cross-process notification only delays
            await watch.wait(min(remaining, 10.0), abort)


def _line(text: str) -> str:
    if len(text) <= LINE_MAX:
        return text
    return text[: LINE_MAX - 40] + f" … [line cut at {LINE_MAX} characters]"


async def append(
    svc: Services, p: Principal, exec_id: int,
    lines: Sequence[tuple[int | None, str, str]],
) -> Appended:
    """Keep (at_ms or None for now, stream, text) lines; a text with newlines is several."""
    if len(lines) > BATCH_MAX_LINES:
        raise TooLarge(f"lines: at most {BATCH_MAX_LINES} lines per request")
    now = svc.clock.now()
    rows: list[tuple[datetime, str, str]] = []
    for at_ms, stream, text in lines:
        if stream not in STREAMS:
            raise InvalidInput(f"stream: must be one of {', '.join(STREAMS)}")
        if at_ms is not None and not MS_MIN <= at_ms <= MS_MAX:
            raise InvalidInput("at: Unix milliseconds between years 2000 and 2200")
        at = now if at_ms is None else from_ms(at_ms)
        rows.extend((at, stream, _line(t)) for t in (text.splitlines() or [""]))
    if len(rows) > BATCH_MAX_LINES:
        raise TooLarge(f"lines: at most {BATCH_MAX_LINES} lines per request")
    got = await svc.store.append_log(p.env_id, exec_id, rows, LOG_CAPS)
    if got.kept or got.dropped:
        svc.bus.log_appended.notify({p.env_id: ANY})
    return got


async def read(
    svc: Services, p: Principal, exec_id: int, after_id: int = 0, limit: int = READ_MAX
) -> tuple[Run, list[LogLine]]:
    return await svc.store.read_log(p.env_id, exec_id, _after(after_id), min(limit, READ_MAX))


def _after(after_id: int) -> int:
    """Line ids are 32-bit: a cursor past the largest id means "after every line" (and
    must not reach PostgreSQL, where it overflows int4)."""
    return min(max(after_id, 0), MAX_ID)


async def follow(
    svc: Services, p: Principal, exec_id: int, after_id: int = 0,
    keepalive: float = 15.0, abort: asyncio.Event | None = None,
) -> AsyncGenerator[tuple[Run, list[LogLine]], None]:
    """Yield (run, new lines) as lines come (an empty list at least every ``keepalive``
    seconds), until the run has ended and every line was yielded, or ``abort``. Raises
    ``Unauthorized`` as soon as the key is revoked or the environment deleted meanwhile."""
    loop = asyncio.get_running_loop()
    last_yield = loop.time()
    access = AccessCheck(svc, p, fresh=True)
    with svc.bus.log_appended.watch(p.env_id, None) as watch:
        while abort is None or not abort.is_set():
            watch.event.clear()
            await access.check()
            run, lines = await svc.store.read_log(p.env_id, exec_id, _after(after_id), READ_MAX)
            if lines:
                after_id = lines[-1].id
            if lines or loop.time() - last_yield >= keepalive:
                last_yield = loop.time()
                yield run, lines
            if len(lines) == READ_MAX:
                continue
            if run.status.terminal:
                if not lines:
                    yield run, []
                return
            await watch.wait(FOLLOW_RECHECK, abort)
