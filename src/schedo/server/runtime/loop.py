"""The one shape of every background loop: do the work, then sleep until it is due again or a
wake-up signal moves, whichever comes first.

``step()`` does one pass and returns in how many seconds it wants the next (None: nothing is
scheduled, so ``max_idle``; 0 or less: at once). The signal's version is taken *before* the
step, so a wake-up that arrives while the step runs is not lost. The wait is capped at
``max_idle`` so that changes made by other processes are never missed for long. An error of
a step is logged as ``name`` (a stable event name such as ``ticker.error``) and the step is
tried again after ``retry_after`` seconds; cancellation ends the loop. An error that repeats
(the same class and message, as during a database outage) is logged with its traceback once,
then as one line at most every ``REPEAT_LOG_EVERY`` seconds with its count, and the first
success after errors says how many there were.

Used by the ticker, the reaper, the push dispatcher, the notifier and retention.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from .bus import Signal
from .clock import Clock

RETRY_AFTER = 1.0
REPEAT_LOG_EVERY = 60.0  # seconds between two lines about the same repeated error

Step = Callable[[], Awaitable[float | None]]


def seconds_until(clock: Clock, when: datetime | None) -> float | None:
    """Seconds from the clock's now to ``when`` (None stays None: nothing scheduled)."""
    return None if when is None else (when - clock.now()).total_seconds()


async def run_loop(
    step: Step,
    wake: Signal | None,
    *,
    max_idle: float,
    name: str,
    log: logging.Logger,
    retry_after: float = RETRY_AFTER,
) -> None:
    """Run ``step`` forever (see the module docstring). ``wake`` None: plain sleeps."""
    failing = _Failing(name, log)
    while True:
        seen = wake.version if wake is not None else 0
        try:
            due_in = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failing.failed(exc)
            await asyncio.sleep(retry_after)
            continue
        failing.succeeded()
        timeout = max_idle if due_in is None else min(max_idle, max(0.0, due_in))
        if timeout <= 0:
            continue
        if wake is None:
            await asyncio.sleep(timeout)
        else:
            await wake.wait(timeout, seen)


class _Failing:
    """The error log of one loop: a new error with its traceback, a repeat as a count."""

    __slots__ = ("count", "last_line", "log", "name", "unlogged", "what")

    def __init__(self, name: str, log: logging.Logger) -> None:
        self.name, self.log = name, log
        self.what: tuple[type[BaseException], str] | None = None
        self.count = self.unlogged = 0
        self.last_line = 0.0

    def failed(self, exc: Exception) -> None:
        what = (type(exc), str(exc))
        self.count += 1
        now = time.monotonic()
        if what != self.what:
            self.what, self.last_line, self.unlogged = what, now, 0
            self.log.exception(self.name)
            return
        self.unlogged += 1
        if now - self.last_line >= REPEAT_LOG_EVERY:
            self.log.error("%s: the same error again, %d times in %.0f s (%s: %s)", self.name,
                           self.unlogged, now - self.last_line, what[0].__name__,
                           what[1][:200])
            self.last_line, self.unlogged = now, 0

    def succeeded(self) -> None:
        if self.count:
            self.log.warning("%s: working again after %d failed attempts", self.name,
                             self.count)
            self.what, self.count, self.unlogged = None, 0, 0
