"""Contract: past instants run on request (backfill, re-run); rules in domain/backfill.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from ...domain.audit import Actor
from ...domain.records import Run


class ReplayStore(Protocol):
    async def backfill(
        self, env_id: int, job_id: int, instants: Sequence[datetime], now: datetime,
        actor: Actor | None = None,
    ) -> list[Run]:
        """Create the runs ``domain.backfill.backfill_runs`` drafts for ``instants``, in one
        transaction, skipping every instant whose (job, "schedule", instant, 1) exists;
        return the created runs, oldest instant first. NotFound unless the job is in the
        environment; Conflict for a blocking job (nothing is created). With an ``actor``,
        records "backfilled" with the number of runs made (nothing when none was)."""

    async def rerun(
        self, env_id: int, exec_id: int, now: datetime, actor: Actor | None = None,
    ) -> Run:
        """Create the next attempt of the execution's instant (``domain.backfill.rerun_of``)
        and return it (with an ``actor``, records "rerun" on its job: the run it repeats and
        the new one). NotFound unless the execution is in the environment; Conflict while
        an attempt of that instant is pending or running. Two concurrent re-runs of one
        instant create two attempts, one after the other (the unique key decides)."""
