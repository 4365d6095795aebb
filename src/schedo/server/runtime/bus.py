"""Wake-ups between services and loops. In one process they are asyncio events; with
PostgreSQL, ``pgbridge.PgBridge`` carries them to every server process (LISTEN/NOTIFY).

``Signal`` is a level-triggered, many-waiter wake-up: ``notify()`` wakes every task waiting
at that moment and every later ``wait()`` until the waiter has seen it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import datetime

# What a notification is about: environment id -> job codes (None: anything)
Topics = Mapping[int, Collection[str]]


class Watch:
    """A waiter interested in some job codes of one environment (``codes`` None: all of
    them). Registered before the waiter looks for work, so a notification that arrives
    between the look and the wait is not lost."""

    def __init__(self, env_id: int, codes: Collection[str] | None) -> None:
        self.env_id = env_id
        self.codes = None if codes is None else frozenset(codes)
        self.event = asyncio.Event()

    def concerns(self, topics: Topics | None) -> bool:
        if topics is None:
            return True
        created = topics.get(self.env_id)
        if created is None:
            return False
        if self.codes is None:
            return True
        return not self.codes.isdisjoint(created)

    async def wait(self, timeout: float, abort: asyncio.Event | None = None) -> bool:  # noqa: ASYNC109
        """Wait for a notification that concerns this watch (since the last wait), the
        timeout, or ``abort``. Returns True when notified."""
        if not self.event.is_set() and (abort is None or not abort.is_set()):
            waiters = {asyncio.ensure_future(self.event.wait())}
            if abort is not None:
                waiters.add(asyncio.ensure_future(abort.wait()))
            try:
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in waiters:
                    t.cancel()
        woken = self.event.is_set() and (abort is None or not abort.is_set())
        self.event.clear()
        return woken


class Signal:
    def __init__(self, name: str = "", wakes: Collection[Signal] = ()) -> None:
        self.name = name
        # signals whose every waiter is woken too (access_changed wakes every puller)
        self.wakes = tuple(wakes)
        self._version = 0
        self._event = asyncio.Event()
        self._watches: set[Watch] = set()
        # Set by a cross-process bridge (PostgreSQL LISTEN/NOTIFY) to publish notifications.
        self.publish: Callable[[str, Topics | None], None] | None = None

    @property
    def version(self) -> int:
        return self._version

    def notify(self, topics: Topics | None = None) -> None:
        """Wake local waiters and, through the bridge if any, the other server processes.
        ``topics`` (environment -> job codes) wakes only the watches they concern, here and
        in the other processes (the bridge carries them)."""
        self.notify_local(topics)
        if self.publish is not None:
            self.publish(self.name, topics)

    def notify_local(self, topics: Topics | None = None) -> None:
        self._version += 1
        self._event.set()
        self._event = asyncio.Event()
        for w in self._watches:
            if not w.event.is_set() and w.concerns(topics):
                w.event.set()
        for other in self.wakes:
            other.notify_local(None)

    @contextlib.contextmanager
    def watch(self, env_id: int, codes: Collection[str] | None) -> Iterator[Watch]:
        """Register a ``Watch`` for the duration of the block."""
        w = Watch(env_id, codes)
        self._watches.add(w)
        try:
            yield w
        finally:
            self._watches.discard(w)

    async def wait(
        self, timeout: float | None, seen: int | None = None,  # noqa: ASYNC109
        abort: asyncio.Event | None = None,
    ) -> bool:
        """Wait until notified after version ``seen`` (default: now), or ``timeout`` seconds.
        Returns True when woken by a notification."""
        if seen is not None and self._version != seen:
            return True
        event = self._event
        if abort is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
                return True
            return False
        if abort.is_set():
            return False
        waiters = {asyncio.create_task(event.wait()), asyncio.create_task(abort.wait())}
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in waiters:
                t.cancel()
        return event.is_set() and not abort.is_set()


class Bus:
    """The wake-up signals of one server process."""

    def __init__(self) -> None:
        # ticker: a job was defined/changed/paused/resumed
        self.jobs_changed = Signal("jobs_changed")
        # worker pulls and dispatchers: new pending runs
        self.runs_ready = Signal("runs_ready")
        # reaper: a new earlier deadline may exist
        self.deadlines_changed = Signal("deadlines_changed")
        # runs were cancelled (topics: env -> job codes): workers watching them are told
        self.runs_cancelled = Signal("runs_cancelled")
        # a run's live output grew, or the run ended (topics: env -> job codes): followers
        self.log_appended = Signal("log_appended")
        # a key was revoked or an environment deleted: open streams, long polls, follow
        # streams and cancel watches check that theirs still stands (services/access.py;
        # waking every one of them: rare)
        self.access_changed = Signal(
            "access_changed", wakes=[self.runs_ready, self.runs_cancelled, self.log_appended])
        # set when the server begins a graceful shutdown: long polls and streams end at once
        self.stopping = asyncio.Event()
        # when this process's reaper next wakes by itself (its clock); None while it is
        # between two waits (a pass running, a failure) or when no reaper runs here
        self.reaper_wakes_at: datetime | None = None

    def deadlines_added(self, deadlines: Iterable[datetime | None]) -> None:
        """Runs got these deadlines (claimed runs: their run deadline): wake the reaper, and
        every loop waiting on ``deadlines_changed``, unless this process's reaper already
        wakes by itself no later than the earliest of them. Then its next pass reads the
        new deadlines from the database as it would after the wake-up, and a claim does not
        cost a reaper pass and a notifier pass (the notifier is waited on for new alerts,
        which a claim does not write). The reaper resets ``reaper_wakes_at`` to None
        before each pass, so a deadline committed while it reads is never missed."""
        earliest = min((d for d in deadlines if d is not None), default=None)
        if earliest is None:
            return
        wakes = self.reaper_wakes_at
        if wakes is None or earliest < wakes:
            self.deadlines_changed.notify()

    def signals(self) -> dict[str, Signal]:
        return {
            s.name: s
            for s in (self.jobs_changed, self.runs_ready, self.deadlines_changed,
                      self.access_changed, self.runs_cancelled, self.log_appended)
        }
