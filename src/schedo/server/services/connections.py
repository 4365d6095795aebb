"""Worker connections per job, for ``connections_count`` (SPEC 2.3).

A worker counts as a connection of every job code it named while it holds an open stream or
has polled in the last 30 seconds. The rows live in the database (``worker_connections``), so
every server process counts the workers of all of them. Writes are throttled: a worker's rows
are refreshed at most every ``REFRESH`` seconds by one process.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ..storage.contracts import WorkerStore

RECENT = timedelta(seconds=30)
REFRESH = timedelta(seconds=10)
PRUNE_EVERY = timedelta(minutes=5)
PRUNE_AGE = timedelta(hours=1)


class Connections:
    def __init__(self, store: WorkerStore) -> None:
        self.store = store
        self._touched: dict[tuple[int, str, tuple[str, ...]], datetime] = {}
        self._pruned: datetime | None = None

    async def seen(self, env_id: int, codes: Sequence[str], worker: str, now: datetime) -> None:
        key = (env_id, worker, tuple(codes))
        last = self._touched.get(key)
        if last is not None and now - last < REFRESH:
            return
        self._touched[key] = now
        await self.store.touch_connections(env_id, codes, worker, now)
        if self._pruned is None or now - self._pruned > PRUNE_EVERY:
            self._pruned = now
            await self.store.prune_connections(now - PRUNE_AGE)
            self._touched = {k: v for k, v in self._touched.items() if now - v < PRUNE_AGE}

    async def closed(self, env_id: int, codes: Sequence[str], worker: str) -> None:
        self._touched.pop((env_id, worker, tuple(codes)), None)
        await self.store.drop_connections(env_id, codes, worker)

    async def counts(self, env_id: int, codes: Sequence[str], now: datetime) -> dict[str, int]:
        found = await self.store.count_connections(env_id, codes, now - RECENT)
        return {c: found.get(c, 0) for c in codes}
