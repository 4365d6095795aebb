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

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from . import targets
from .model import ACTIVE, JobType, Overlap, RunStatus
from .policies import pickup_deadline
from .records import Job, Run

SKIP, ALLOW, BUFFER_ONE, CANCEL_OTHER = (
    Overlap.SKIP, Overlap.ALLOW, Overlap.BUFFER_ONE, Overlap.CANCEL_OTHER)
POLICIES = tuple(Overlap)
CANCELLED_BY_TICK = "a newer tick started (overlap=cancel_other)"
HELD = datetime(9000, 1, 1, tzinfo=UTC)  # the due time of a buffered run until it is released
BLOCKED_ERROR = "skipped: the previous run of this blocking job is still pending or running"
BUFFER_FULL_ERROR = ("skipped: a run is active and one tick is already buffered "
                     "(overlap=buffer_one)")


def policy(job: Job) -> Overlap:
    """The job's policy; rows from before the field say it through ``blocking``. A
    heartbeat job waits for one ping at a time: skip, whatever its row says (definitions
    stored overlap "allow" beside blocking true for it)."""
    if job.type is JobType.HEARTBEAT:
        return SKIP
    if job.overlap in POLICIES:
        return Overlap(job.overlap)
    return SKIP if job.blocking else ALLOW


def counts_live_runs(job: Job) -> bool:
    """Whether a tick of this job depends on its runs still pending or running (a blocking
    job, a concurrency limit, buffer_one, cancel_other): only these jobs' live runs are read."""
    return job.blocking or bool(job.max_concurrency) or job.overlap in (BUFFER_ONE, CANCEL_OTHER)


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


# -- after a tick: cancel_other ------------------------------------------------------------


def _fresh(created: Sequence[Run]) -> dict[int, list[Run]]:
    out: dict[int, list[Run]] = {}
    for e in created:
        if e.status is RunStatus.PENDING:
            out.setdefault(e.job_id, []).append(e)
    return out


def cancelling(due: Sequence[Job], created: Sequence[Run]) -> list[int]:
    """The jobs whose tick cancels their other live runs: overlap=cancel_other, and the tick
    made a new pending run (``created``: the runs the insert actually made)."""
    fresh = _fresh(created)
    return [j.id for j in due if j.id in fresh and cancels(j)]


def cancelled_by_tick(
    due: Sequence[Job], created: Sequence[Run], live: Sequence[Run]
) -> list[Run]:
    """Of ``live`` (runs of the ``cancelling`` jobs still pending or running), those the tick
    ends (``lifecycle.cancel`` with ``CANCELLED_BY_TICK``): every run of the job but its new
    ones; for a job with target mode "all", only those on the hosts of its new runs."""
    fresh = _fresh(created)
    ids = {e.id for runs in fresh.values() for e in runs}
    chosen = set(cancelling(due, created))
    hosts = {j.id: {e.target_host for e in fresh[j.id]} for j in due
             if j.id in chosen and targets.fans_out(j.target)}
    return [r for r in live if r.job_id in chosen and r.id not in ids
            and r.status in ACTIVE and (r.job_id not in hosts or r.target_host in hosts[r.job_id])]


# -- after an end: buffer_one ----------------------------------------------------------------


def is_held(run: Run) -> bool:
    """A buffered run (pending, due at ``HELD`` until released)."""
    return run.status is RunStatus.PENDING and run.due_at >= HELD


def released(held: Sequence[Run], live: Sequence[Run], now: datetime) -> list[Run]:
    """overlap=buffer_one: the buffered runs (``held``) that become due now, with their
    pick-up window from now: those whose job has no other run pending or running in
    ``live`` (buffered ones aside). A run of a target mode "all" job (host and tags both set)
    waits only for the runs on its own host."""
    out = []
    for h in held:
        if not is_held(h):
            continue
        per_host = h.target_host is not None and h.target_tags is not None
        busy = any(o.job_id == h.job_id and o.status in ACTIVE and o.due_at < HELD
                   and (not per_host or o.target_host == h.target_host) for o in live)
        if not busy:
            out.append(replace(h, due_at=now, pickup_deadline=pickup_deadline(
                now, h.timeout_seconds)))
    return out
