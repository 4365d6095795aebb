"""Retry pacing for the worker: exponential backoff with jitter, and a wake-up pulse."""

from __future__ import annotations

import asyncio
import random


class Backoff:
    """0.5 s, doubling, capped at 30 s, each delay jittered by ±20 % (never above the cap)."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, jitter: float = 0.2) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.failures = 0

    def next(self) -> float:
        delay: float = min(self.cap, self.base * 2.0 ** min(self.failures, 30))
        self.failures += 1
        return min(self.cap, delay * random.uniform(1 - self.jitter, 1 + self.jitter))

    def reset(self) -> None:
        self.failures = 0


class Pulse:
    """Wakes every waiter once per ``notify()`` (e.g. "the server answers again")."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Sleep until the next ``notify()`` or ``seconds``; True if notified."""
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            return False
        return True
