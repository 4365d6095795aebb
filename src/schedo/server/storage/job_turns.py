"""Writing what ends of runs change on many jobs at once (``run_rows.end_on_jobs``): each
job's health turn and status mirror in one UPDATE, and the jobs whose change has the same
shape (the same turn columns, with or without a mirror) share one ``executemany`` of a
statement built once per shape, instead of one UPDATE built, compiled and run per job. A
batch of 100 reports of 100 jobs (every success moves ``last_success_at``) cost 200
statements; it costs one or two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, case, update

from .db import Conn, Database
from .driver_many import DriverMany, driver_value
from .run_insert import later_run
from .schema import jobs

_BY_SHAPE: dict[tuple[tuple[str, ...], bool], DriverMany] = {}
# the mirror's condition: no run of the job later than the ended one (``:e``) but skipped
# ones, which never drive the status (``lifecycle.job_mirror``)
_LATER = later_run(bindparam("j"), bindparam("e"))


def set_columns(columns: tuple[str, ...]) -> Any:
    """``UPDATE jobs SET <column> = :v_<column>, … WHERE id = :j`` (Core): the one shape of a
    job's update by id with its changed columns as parameters (here, and a redefinition's in
    ``sql_jobs.py`` with RETURNING)."""
    return (update(jobs).where(jobs.c.id == bindparam("j"))
            .values({c: bindparam(f"v_{c}", type_=jobs.c[c].type) for c in columns}))


def _statement(columns: tuple[str, ...], mirror: bool) -> DriverMany:
    """``set_columns(columns)``, with the status mirror (``:s``, ``:rc`` unless a later run
    exists than ``:e``) when ``mirror``: built once per shape (sent to the driver as it is:
    ``driver_many.py``)."""
    shape = (columns, mirror)
    stmt = _BY_SHAPE.get(shape)
    if stmt is None:
        names: tuple[str, ...] = ("j", *(f"v_{c}" for c in columns))
        update_ = set_columns(columns)
        if mirror:
            update_ = update_.values(
                status=case((_LATER, jobs.c.status), else_=bindparam("s")),
                retry_count=case((_LATER, jobs.c.retry_count), else_=bindparam("rc")))
            names += ("e", "s", "rc")
        stmt = _BY_SHAPE[shape] = DriverMany(update_, names)
    return stmt


async def write_job_ends(
    db: Database, c: Conn,
    changes: Sequence[tuple[int, dict[str, Any], tuple[int, str, int] | None]],
) -> None:
    """For each ``(id, values, mirror)`` in ``changes`` (ids distinct), set ``values`` on job
    ``id`` and, given ``mirror`` = (run id, status, retry count), its status and retry count
    unless a later run than that one exists: one statement per distinct shape, in the order
    the shapes first appear."""
    groups: dict[tuple[tuple[str, ...], bool], list[tuple[Any, ...]]] = {}
    for job_id, values, mirror in changes:
        columns = tuple(sorted(values))
        groups.setdefault((columns, mirror is not None), []).append(
            (job_id, *(driver_value(values[k]) for k in columns), *(mirror or ())))
    for (columns, mirrored), rows in groups.items():
        await _statement(columns, mirrored).run(db, c, rows)
