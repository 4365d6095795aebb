"""Rows a loop sets aside after they alone made its batch fail.

A batch that fails because of one row (a job whose tick cannot be stored, a run whose expiry
hits a constraint) must not roll back forever and stop the loop for everyone. The loop then
retries the batch's rows one per transaction; a row that fails alone is logged and set aside
for ``HOLD`` (this process only), and is tried again after that, logged again if it still
fails. Every other row goes on as usual. A failure while the database itself is down or
refuses writes (``database_down``) is no row's fault: the loop retries the whole pass.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..services import ops
from ..services.context import Services

log = logging.getLogger("schedo.scheduler")
HOLD = timedelta(minutes=10)


class SetAside:
    def __init__(self, what: str) -> None:
        self.what = what
        self._until: dict[int, datetime] = {}

    def add(self, row_id: int, now: datetime, exc: BaseException) -> None:
        self._until[row_id] = now + HOLD
        # storage errors chain the driver's: say what really failed (its first line only,
        # never the statement and its parameters)
        cause = getattr(exc.__cause__, "orig", None) or exc.__cause__
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        why = f" (from {type(cause).__name__}: {first})" if cause is not None else ""
        log.error(
            "%s.set_aside id=%d until=%s error=%s: %s%s",
            self.what, row_id, (now + HOLD).isoformat(), type(exc).__name__, exc, why,
        )

    def ids(self, now: datetime) -> set[int]:
        """The ids set aside at ``now`` (those whose hold ended are forgotten)."""
        for row_id in [i for i, until in self._until.items() if until <= now]:
            del self._until[row_id]
        return set(self._until)

    def wake_at(self, now: datetime, nearest: datetime | None) -> datetime | None:
        """When the loop should look again: ``nearest`` (found ignoring the rows set aside),
        or earlier when a hold ends first, so a held row is retried on time and never makes
        the loop spin while it is held."""
        ends = [until for until in self._until.values() if until > now]
        if not ends:
            return nearest
        return min([*ends, nearest]) if nearest is not None else min(ends)


async def database_down(svc: Services) -> bool:
    """Whether the database is unreachable or refuses writes now (the readiness check)."""
    return await ops.not_ready(svc) is not None
