"""Worker connections per job, for ``connections_count``.

A worker counts as a connection of every job code it named while it holds an open stream or
has polled in the last 30 seconds (SPEC 2.3). In-process only: the scale-out issue shares it
through the database.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

RECENT = timedelta(seconds=30)


class Connections:
    def __init__(self) -> None:
        # (env_id, job_code) -> {worker id: last seen}
        self._polls: dict[tuple[int, str], dict[str, datetime]] = defaultdict(dict)
        self._streams: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)

    def polled(self, env_id: int, codes: list[str], worker: str, now: datetime) -> None:
        for code in codes:
            self._polls[(env_id, code)][worker] = now

    def stream_opened(self, env_id: int, codes: list[str], worker: str) -> None:
        for code in codes:
            d = self._streams[(env_id, code)]
            d[worker] = d.get(worker, 0) + 1

    def stream_closed(self, env_id: int, codes: list[str], worker: str) -> None:
        for code in codes:
            d = self._streams[(env_id, code)]
            if d.get(worker, 0) <= 1:
                d.pop(worker, None)
            else:
                d[worker] -= 1

    def count(self, env_id: int, code: str, now: datetime) -> int:
        key = (env_id, code)
        polls = self._polls.get(key, {})
        for w in [w for w, seen in polls.items() if now - seen > RECENT]:
            del polls[w]
        return len(set(polls) | set(self._streams.get(key, {})))
