"""Retry pacing for the worker and the agent: exponential backoff with jitter, which errors
are worth a retry, and a wake-up pulse.

``RECONNECT_CAP``: every retry of a worker (``schedo worker`` / ``Schedo.run``) and of
``schedo agent`` against an unreachable or failing server (connection refused, reset or
timed out, 5xx, 429 without a longer ``Retry-After``) waits at most 5 s: 0.5 s, 1 s, 2 s,
4 s, then 4-5 s apart. So a worker is back at most ~5 s after the server is, however long
the outage lasted, while a thousand workers retrying together still spread their attempts
over a second rather than landing at the same instant.
"""

from __future__ import annotations

import asyncio
import random

from .errors import ApiError, ConnectionFailed, RateLimited, ServerError

RECONNECT_CAP = 5.0  # seconds, at most, between two attempts to reach the server


class Backoff:
    """``base`` (0.5 s), doubling, capped at ``cap``; each delay jittered by ±``jitter``
    (20 %). A jittered delay never exceeds the cap: at the cap it is drawn from
    [cap * (1 - jitter), cap], so retries stay spread out there too."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, jitter: float = 0.2) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.failures = 0

    def next(self) -> float:
        delay: float = min(self.cap, self.base * 2.0 ** min(self.failures, 30))
        self.failures += 1
        jittered = delay * random.uniform(1 - self.jitter, 1 + self.jitter)
        if jittered > self.cap:
            jittered = self.cap * random.uniform(1 - self.jitter, 1)
        return jittered

    def reset(self) -> None:
        self.failures = 0


def reconnect_backoff() -> Backoff:
    """The backoff of every retry against the server (see ``RECONNECT_CAP``)."""
    return Backoff(cap=RECONNECT_CAP)


def retryable(exc: BaseException) -> bool:
    """An answer worth trying again later: the server unreachable, 5xx, 429, 408."""
    return isinstance(exc, ConnectionFailed | ServerError | RateLimited) or (
        isinstance(exc, ApiError) and exc.status == 408
    )


def retry_delay(exc: BaseException, backoff: Backoff) -> float:
    """The next delay of ``backoff``, or the server's longer ``Retry-After`` (up to 5 min)."""
    delay = backoff.next()
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        delay = max(delay, min(exc.retry_after, 300.0))
    return delay


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
