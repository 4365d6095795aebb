"""Push runs (SPEC 2.4): the dispatcher claims due runs of push jobs here, in any
environment, and reports their outcome through ``runs.complete_one`` like every other run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.model import JobType
from ..domain.records import Run
from .context import Services

PUSH_TYPES = (JobType.PUSH.value,)


@dataclass(frozen=True, slots=True)
class PushRun:
    """A claimed push run with where to send it and what to sign it with."""

    run: Run
    url: str | None  # the job's webhook_url
    secret: str  # the environment's signature key ("" when it did not unseal)
    previous: str = ""  # its key before a rotation, while the overlap runs (issue 22)


async def claim_due(svc: Services, now: datetime, limit: int) -> list[PushRun]:
    """Claim up to ``limit`` due push runs (the workers' atomic claim, over every
    environment); their run deadlines start now, so the reaper is woken if it would sleep
    past them."""
    claimed = await svc.store.claim_any(PUSH_TYPES, now, limit)
    if not claimed:
        return []
    svc.bus.deadlines_added(ex.run_deadline for ex, _url, _secret in claimed)
    previous = await svc.store.previous_signature_keys(
        {ex.environment_id for ex, _url, _secret in claimed}, now)
    return [PushRun(ex, url, secret, previous.get(ex.environment_id, ""))
            for ex, url, secret in claimed]


async def next_due(svc: Services) -> datetime | None:
    """The earliest due time of a pending push run (retries wait out their backoff)."""
    return await svc.store.earliest_due_of_types(PUSH_TYPES)
