"""A job's runs as the API lists them (``ExecutionStore.run_views``), read without building a
``Run`` record per row: only the listed columns, stored times as epoch milliseconds (no
datetime per column), JSON columns parsed by the driver's JSON type as usual.

``VIEW_COLUMNS`` is the order of each row's values; ``api/shapes.execution_view`` turns one
into the same answer ``shapes.execution`` makes of the ``Run`` (tests/contract
test_store_reads checks both on both databases)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, bindparam, select, true, type_coerce

from .prepared import Prepared
from .schema import executions, jobs
from .schema_types import EpochMs

VIEW_COLUMNS = (
    "id", "job_id", "job_code", "status", "scheduled_for", "due_at", "attempt", "trigger",
    "pick_up_time", "start_time", "end_time", "duration", "output", "error", "exit_code",
    "metadata", "worker", "payload", "target_host",
)  # fmt: skip
# positions of the epoch-millisecond columns in a view row
TIME_POSITIONS = tuple(
    i for i, n in enumerate(VIEW_COLUMNS) if isinstance(executions.c[n].type, EpochMs)
)


def _raw(name: str) -> Any:
    col = executions.c[name]
    # the stored BIGINT as it is: the API formats it straight from milliseconds
    return type_coerce(col, BigInteger).label(name) if isinstance(col.type, EpochMs) else col


def _view(below: bool) -> Any:
    """The job (tenant check) with its runs, newest first, in one statement: no row when the
    job is not in the environment, one row of NULL runs when it has none."""
    runs = select(*(_raw(n) for n in VIEW_COLUMNS)).where(
        executions.c.job_id == bindparam("job_id")
    )
    if below:
        runs = runs.where(executions.c.id < bindparam("cursor"))
    page = runs.order_by(executions.c.id.desc()).limit(bindparam("limit")).subquery("page")
    return (
        select(jobs.c.id.label("found"), *(page.c[n] for n in VIEW_COLUMNS))
        .select_from(jobs.outerjoin(page, true()))
        .where(jobs.c.id == bindparam("job_id"), jobs.c.environment_id == bindparam("env_id"))
        .order_by(page.c.id.desc())
    )


# driver statements on SQLite (prepared.py)
VIEW = Prepared(_view(below=False))
VIEW_BELOW = Prepared(_view(below=True))
