"""PostgreSQL-only parts of scale-out: cross-process wake-ups and the database clock.

``PgBridge`` carries bus notifications between server processes with LISTEN/NOTIFY on one
dedicated asyncpg connection, reconnecting with backoff when the database goes away (the loops
re-read at least every 30 s anyway, so a lost notification only delays, never loses, work).
Publishing is coalesced: one NOTIFY per signal per event-loop turn, carrying the union of the
topics (environment -> job codes) notified in that turn, so a long poll in another process is
woken only by runs of its own jobs, as in one process. A payload that would not fit a NOTIFY
(``MAX_PAYLOAD``) is sent without topics: it wakes every waiter (more queries, nothing lost).
Payload: ``{"from": tag, "signal": name, "topics": {"env id": [codes]} | null}``; a payload in
the earlier ``tag:name`` form (a process not yet upgraded) wakes everything. The reverse does
not hold: a process of the earlier version ignores the JSON form, so its polls wake only at
their 30 s re-read until it is upgraded (upgrades that seal keys stop every process anyway).

``DbClock`` makes due times and deadlines follow the database's clock: it measures the offset
between this host's clock and ``clock_timestamp()`` (half the round trip corrected) every 30 s,
so a server whose clock is skewed creates no early runs and expires nothing early.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from ..storage.db import SERVING_LOCK_ID
from .bus import Bus, Topics

log = logging.getLogger("schedo.pg")
CHANNEL = "schedo_events"
MAX_PAYLOAD = 7900  # bytes; PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
Pending = dict[int, set[str]] | None  # merged topics of a signal; None: wake everything


def encode(tag: str, name: str, topics: Pending) -> str:
    body = None if topics is None else {str(e): sorted(c) for e, c in topics.items()}
    payload = json.dumps({"from": tag, "signal": name, "topics": body},
                         separators=(",", ":"))
    if len(payload.encode()) > MAX_PAYLOAD:
        payload = json.dumps({"from": tag, "signal": name, "topics": None},
                             separators=(",", ":"))
    return payload


def decode(payload: str) -> tuple[str, str, Topics | None] | None:
    """(sender tag, signal name, topics) of a payload; None if it is not one of ours."""
    if not payload.startswith("{"):
        tag, sep, name = payload.partition(":")  # the earlier form: wakes everything
        return (tag, name, None) if sep else None
    try:
        msg = json.loads(payload)
        raw = msg["topics"]
        topics = None if raw is None else {int(e): frozenset(map(str, c)) for e, c in raw.items()}
        return str(msg["from"]), str(msg["signal"]), topics
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class PgBridge:
    def __init__(self, dsn: str, bus: Bus) -> None:
        self.dsn = dsn
        self.bus = bus
        self.signals = bus.signals()
        self._pending: dict[str, Pending] = {}
        self._wake = asyncio.Event()
        self._conn: Any = None
        self._tag = f"{os.getpid()}-{id(self)}"

    def install(self) -> None:
        for s in self.signals.values():
            s.publish = self._queue

    def _queue(self, name: str, topics: Topics | None) -> None:
        if topics is None:
            self._pending[name] = None  # everything: stays so for this turn
        else:
            merged = self._pending.setdefault(name, {})
            if merged is not None:
                for env_id, codes in topics.items():
                    merged.setdefault(env_id, set()).update(codes)
        self._wake.set()

    def _on_message(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        msg = decode(payload)
        if msg is None or msg[0] == self._tag:
            return
        sig = self.signals.get(msg[1])
        if sig is not None:
            sig.notify_local(msg[2])

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                self._conn = await asyncpg.connect(self.dsn)
                # "a server serves this database", for offline commands (migrate.SERVING_LOCK_ID)
                await self._conn.execute("SELECT pg_advisory_lock_shared($1)", SERVING_LOCK_ID)
                await self._conn.add_listener(CHANNEL, self._on_message)
                backoff = 0.5
                for s in self.signals.values():  # we may have missed news while away
                    s.notify_local()
                while not self._conn.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), 5.0)
                    self._wake.clear()
                    names, self._pending = self._pending, {}
                    for name, topics in names.items():
                        await self._conn.execute("SELECT pg_notify($1, $2)", CHANNEL,
                                                 encode(self._tag, name, topics))
                    if not names:
                        await self._conn.execute("SELECT 1")  # notice a dead connection
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("pg.bridge_down error=%s retry_in=%.1fs", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                if self._conn is not None and not self._conn.is_closed():
                    with contextlib.suppress(Exception):
                        await self._conn.close()


class DbClock:
    """Wall time corrected to the database's clock (see module docstring)."""

    RESYNC = 30.0

    def __init__(self, dsn: str, skew_seconds: float = 0.0) -> None:
        self.dsn = dsn
        self.skew = timedelta(seconds=skew_seconds)  # test hook: simulate a wrong host clock
        self.offset = timedelta(0)

    def local(self) -> datetime:
        return datetime.now(UTC) + self.skew

    def now(self) -> datetime:
        return self.local() + self.offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sync(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            best: timedelta | None = None
            for _ in range(3):
                t0 = time.monotonic()
                before = self.local()
                db_now: datetime = await conn.fetchval("SELECT clock_timestamp()")
                rtt = time.monotonic() - t0
                offset = db_now - (before + timedelta(seconds=rtt / 2))
                if best is None or rtt < best.total_seconds():
                    self.offset, best = offset, timedelta(seconds=rtt)
        finally:
            await conn.close()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.RESYNC)
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep the last offset while the database is away
                log.warning("pg.clock_sync_failed error=%s", type(exc).__name__)
