"""Worker connections per job, for ``connections_count`` (SPEC 2.3).

A worker counts as a connection of every job code it named while it holds an open stream or
has polled in the last 30 seconds. The facts live in the database, so every server process
counts the workers of all of them: a heartbeat row per worker, refreshed at most every
``REFRESH`` seconds, and a row per (job code, worker), written when a worker first names its
codes and rewritten only every ``CODES_REFRESH`` (they are pruned an hour after their last
write). A worker serving 100,000 jobs thus costs one row write per refresh, not 100,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ..domain.targets import CONNECTED_WITHIN, AgentMatch
from ..storage.contracts import WorkerStore

RECENT = CONNECTED_WITHIN
REFRESH = timedelta(seconds=10)
CODES_REFRESH = timedelta(minutes=20)
PRUNE_EVERY = timedelta(minutes=5)
PRUNE_AGE = timedelta(hours=1)


def window() -> timedelta:
    """How recently a worker must have been seen to count as a connection."""
    return RECENT


class Connections:
    def __init__(self, store: WorkerStore) -> None:
        self.store = store
        self._beats: dict[tuple[int, str], datetime] = {}
        self._codes: dict[tuple[int, str, tuple[str, ...]], datetime] = {}
        self._pruned: datetime | None = None

    async def seen(self, env_id: int, codes: Sequence[str], worker: str, now: datetime,
                   agent: AgentMatch | None = None) -> None:
        """A pull of ``worker`` (an agent: with what it announced, kept on its heartbeat;
        an agent without ``--jobs`` names no codes and is only a heartbeat)."""
        key = (env_id, worker, tuple(codes))
        written = self._codes.get(key)
        if codes and (written is None or now - written >= CODES_REFRESH):
            self._codes[key] = self._beats[(env_id, worker)] = now
            await self.store.touch_connections(env_id, codes, worker, now, agent)
        else:
            beat = self._beats.get((env_id, worker))
            if beat is None or now - beat >= REFRESH:
                self._beats[(env_id, worker)] = now
                await self.store.heartbeat(env_id, worker, now, agent)
        if self._pruned is None or now - self._pruned > PRUNE_EVERY:
            self._pruned = now
            await self.store.prune_connections(now - PRUNE_AGE)
            self._codes = {k: v for k, v in self._codes.items() if now - v < PRUNE_AGE}
            self._beats = {k: v for k, v in self._beats.items() if now - v < PRUNE_AGE}

    async def closed(self, env_id: int, codes: Sequence[str], worker: str) -> None:
        self._codes.pop((env_id, worker, tuple(codes)), None)
        await self.store.drop_connections(env_id, codes, worker)

    async def counts(self, env_id: int, codes: Sequence[str], now: datetime) -> dict[str, int]:
        found = await self.store.count_connections(env_id, codes, now - RECENT)
        return {c: found.get(c, 0) for c in codes}
