"""Writing the health turns of many jobs at once (``run_rows.record_turns``): the jobs whose
turn sets the same columns share one ``executemany`` of a statement built once per set of
columns, instead of one UPDATE built, compiled and run per job. A batch of 100 reports of
100 jobs (every success moves ``last_success_at``) cost 100 statements; it costs one or two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, update

from .db import Conn, Database
from .driver_many import DriverMany, driver_value
from .schema import jobs

_BY_COLUMNS: dict[tuple[str, ...], DriverMany] = {}


def set_columns(columns: tuple[str, ...]) -> Any:
    """``UPDATE jobs SET <column> = :v_<column>, … WHERE id = :j`` (Core): the one shape of a
    job's update by id with its changed columns as parameters (here, and a redefinition's in
    ``sql_jobs.py`` with RETURNING)."""
    return (update(jobs).where(jobs.c.id == bindparam("j"))
            .values({c: bindparam(f"v_{c}", type_=jobs.c[c].type) for c in columns}))


def _statement(columns: tuple[str, ...]) -> DriverMany:
    """``set_columns(columns)``, built once per set of columns (sent to the driver as it is:
    ``driver_many.py``)."""
    stmt = _BY_COLUMNS.get(columns)
    if stmt is None:
        stmt = _BY_COLUMNS[columns] = DriverMany(
            set_columns(columns), ("j", *(f"v_{c}" for c in columns)))
    return stmt


async def write_job_turns(
    db: Database, c: Conn, changes: Sequence[tuple[int, dict[str, Any]]]
) -> None:
    """Set ``values`` on job ``id`` for each ``(id, values)`` in ``changes`` (ids distinct):
    one statement per distinct set of columns, in the order the sets first appear."""
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for job_id, values in changes:
        columns = tuple(sorted(values))
        groups.setdefault(columns, []).append(
            (job_id, *(driver_value(values[k]) for k in columns)))
    for columns, rows in groups.items():
        await _statement(columns).run(db, c, rows)
