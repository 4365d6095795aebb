"""The one shape of every background loop: do the work, then sleep until it is due again or a
wake-up signal moves, whichever comes first.

``step()`` does one pass and returns in how many seconds it wants the next (None: nothing is
scheduled, so ``max_idle``; 0 or less: at once). The signal's version is taken *before* the
step, so a wake-up that arrives while the step runs is not lost. The wait is capped at
``max_idle`` so that changes made by other processes are never missed for long. An error of
a step is logged as ``name`` (a stable event name such as ``ticker.error``) and the step is
tried again after ``retry_after`` seconds; cancellation ends the loop.

Used by the ticker, the reaper, the push dispatcher, the notifier and retention.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from .bus import Signal
from .clock import Clock

RETRY_AFTER = 1.0

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
    while True:
        seen = wake.version if wake is not None else 0
        try:
            due_in = await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(name)
            await asyncio.sleep(retry_after)
            continue
        timeout = max_idle if due_in is None else min(max_idle, max(0.0, due_in))
        if timeout <= 0:
            continue
        if wake is None:
            await asyncio.sleep(timeout)
        else:
            await wake.wait(timeout, seen)
