"""Overlap policies: what a tick does while the job has runs pending or running. Pure.

``skip`` (``blocking: true``): the tick is recorded as skipped. ``allow`` (``blocking:
false``): it runs, unless ``max_concurrency`` runs are already active (then skipped).
``buffer_one``: it is kept as one *buffered* run (pending, held: due at ``HELD``, so no
worker takes it) that becomes due the moment the active run ends; a further tick while one
is buffered is skipped. ``cancel_other``: the tick runs, and the job's runs still pending or
running are cancelled (``cancels``; the storage ends them in the tick's transaction, the
workers holding them are told as for a cancel on request). The names are Temporal's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .model import Overlap
from .records import Job

SKIP, ALLOW, BUFFER_ONE, CANCEL_OTHER = (
    Overlap.SKIP, Overlap.ALLOW, Overlap.BUFFER_ONE, Overlap.CANCEL_OTHER)
POLICIES = tuple(Overlap)
CANCELLED_BY_TICK = "a newer tick started (overlap=cancel_other)"
HELD = datetime(9000, 1, 1, tzinfo=UTC)  # the due time of a buffered run until it is released
BLOCKED_ERROR = "skipped: the previous run of this blocking job is still pending or running"
BUFFER_FULL_ERROR = ("skipped: a run is active and one tick is already buffered "
                     "(overlap=buffer_one)")


def policy(job: Job) -> Overlap:
    """The job's policy; rows from before the field say it through ``blocking``."""
    if job.overlap in POLICIES:
        return Overlap(job.overlap)
    return SKIP if job.blocking else ALLOW


def cancels(job: Job) -> bool:
    """Whether a tick of this job that runs cancels the job's other active runs."""
    return policy(job) == CANCEL_OTHER


def limit_error(n: int) -> str:
    return f"skipped: max_concurrency {n} runs are already pending or running"


@dataclass
class Slots:
    """The job's live runs as the tick goes: ``active`` counts pending and running runs
    (a buffered one included), ``held`` whether one is buffered."""

    active: int = 0
    held: bool = False

    def decide(self, job: Job) -> tuple[bool, bool, str | None]:
        """For one tick: (run it, hold it, skip error). Updates the counts."""
        p = policy(job)
        if self.active and p == SKIP:
            return False, False, BLOCKED_ERROR
        if self.active and p == BUFFER_ONE:
            if self.held:
                return False, False, BUFFER_FULL_ERROR
            self.held, self.active = True, self.active + 1
            return True, True, None
        if p == ALLOW and job.max_concurrency and self.active >= job.max_concurrency:
            return False, False, limit_error(job.max_concurrency)
        self.active += 1
        return True, False, None
