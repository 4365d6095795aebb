"""The access check of long-lived requests: pull streams and long polls, live-output follow
streams and cancel watches end when their key is revoked or their environment deleted.

Authentication happens once, when the request starts; a request that then waits (up to 30 s)
or streams (for hours) would outlive a revocation. Every such request holds an
``AccessCheck`` and calls ``check()`` at each wake-up: it queries the database only when
``bus.access_changed`` moved since the last look (a revocation or a deletion somewhere, in any
server process: the PostgreSQL bridge carries it), and raises ``Unauthorized`` when the key is
revoked or the environment gone. ``bus.access_changed`` wakes the waiters of every signal
these requests wait on (``runs_ready``, ``runs_cancelled``, ``log_appended``), so they look at
once rather than at their next re-read.
"""

from __future__ import annotations

from ..domain.errors import Unauthorized
from .context import Principal, Services

LOST = "x-api-key: the key was revoked or its environment deleted while waiting"


class AccessCheck:
    """``fresh``: the first ``check()`` queries even if nothing moved since construction (a
    revocation between the request's authentication and this object would otherwise go
    unseen); the claim of a long poll refuses a dead principal atomically, so it passes
    False and saves the query."""

    def __init__(self, svc: Services, p: Principal, *, fresh: bool = False) -> None:
        self.svc, self.p = svc, p
        self.version = svc.bus.access_changed.version - (1 if fresh else 0)

    async def check(self) -> None:
        version = self.svc.bus.access_changed.version
        if version == self.version:
            return
        self.version = version
        if not await self.svc.store.access_alive(self.p.key_id, self.p.env_id):
            raise Unauthorized(LOST)
