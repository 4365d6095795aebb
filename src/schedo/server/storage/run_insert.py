"""Inserting drafted runs (``domain/lifecycle.RunDraft``) exactly once, shared by the run
bookkeeping (run_rows) and the chains (chain_rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.lifecycle import RunDraft
from ..domain.model import ACTIVE
from ..domain.timefmt import from_ms
from .db import Database
from .schema import TICK_KEY, executions

ACTIVE_VALUES = [s.value for s in ACTIVE]
# exactly once per tick (and host, for target mode "all"): the expression index's elements
RUN_KEY = list(TICK_KEY)


def draft_row(d: RunDraft) -> dict[str, Any]:
    """The executions row of a drafted run."""
    job = d.job
    return {
        "job_id": job.id, "environment_id": job.environment_id, "job_code": job.name,
        "job_type": job.type.value, "status": d.status.value, "source": d.source.value,
        "scheduled_for": d.scheduled_for, "attempt": d.attempt, "trigger": d.trigger.value,
        "due_at": d.due_at, "pickup_deadline": d.pickup_deadline, "run_deadline": None,
        "timeout_seconds": job.timeout_seconds, "pick_up_time": None, "start_time": None,
        "end_time": d.end_time, "duration": None, "output": None, "error": d.error,
        "exit_code": None, "metadata": d.metadata, "created_at": d.created_at,
        "target_host": d.target_host, "target_tags": d.target_tags,
        "payload": d.payload,
    }


def insert_runs(db: Database, returning: bool = True) -> Any:
    """INSERT of drafted runs that skips a run whose (job, source, instant, attempt, host)
    exists: the database makes every tick and retry exactly once (per host)."""
    stmt = db.insert(executions).on_conflict_do_nothing(index_elements=RUN_KEY)
    return stmt.returning(*executions.c) if returning else stmt


def as_dt(v: Any) -> datetime | None:
    """Aggregates over EpochMs columns come back converted on most drivers; be sure."""
    if v is None or isinstance(v, datetime):
        return v
    return from_ms(int(v))
