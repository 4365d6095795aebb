"""In-process wake-ups between services and loops (one process; PostgreSQL LISTEN/NOTIFY
extends it across processes in the scale-out issue).

``Signal`` is a level-triggered, many-waiter wake-up: ``notify()`` wakes every task waiting
at that moment and every later ``wait()`` until the waiter has seen it.
"""

from __future__ import annotations

import asyncio
import contextlib


class Signal:
    def __init__(self) -> None:
        self._version = 0
        self._event = asyncio.Event()

    @property
    def version(self) -> int:
        return self._version

    def notify(self) -> None:
        self._version += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None, seen: int | None = None) -> bool:  # noqa: ASYNC109
        """Wait until notified after version ``seen`` (default: now), or ``timeout`` seconds.
        Returns True when woken by a notification."""
        if seen is not None and self._version != seen:
            return True
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
            return True
        return False


class Bus:
    """The wake-up signals of one server process."""

    def __init__(self) -> None:
        self.jobs_changed = Signal()  # ticker: a job was defined/changed/paused/resumed
        self.runs_ready = Signal()  # worker pulls and dispatchers: new pending runs
        self.deadlines_changed = Signal()  # reaper: a new earlier deadline may exist
