"""Inserting drafted runs (``domain/lifecycle.RunDraft``) exactly once, shared by the run
bookkeeping (run_rows) and the chains (chain_rows).

``insert_drafts`` is the ticker's form (a tick of 10,000 due jobs inserts 10,000 runs): the
multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` is compiled once per dialect and
chunk size and sent to the driver as it is, each row a tuple of driver values (epoch ms,
enum strings, JSON text from the dialect's own JSON processor), RETURNING only the id and the
run's unique key; the created ``Run``s are built from the drafts. SQLAlchemy's
"insertmanyvalues" processed every parameter of every row and every returned column (about
a third of the ticker's CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, exists, literal_column

from ..domain.lifecycle import RunDraft
from ..domain.model import ACTIVE, RunStatus
from ..domain.records import Run
from ..domain.timefmt import from_ms, to_ms
from .db import Conn, Database
from .schema import TICK_KEY, executions

ACTIVE_VALUES = [s.value for s in ACTIVE]
# exactly once per tick (and host, for target mode "all"): the expression index's elements
RUN_KEY = list(TICK_KEY)


def status_is(status: RunStatus) -> Any:
    """``status`` as a literal of the statement's text, not a bound parameter: SQLite plans a
    statement again at every execution when a bound value decides whether a partial index
    (every live-run index is one: ``status = 'pending'``) may be used (~0.1 ms each; a
    claim of 100 runs 4.5 → 3.8 ms, an empty claim 120 → 10 µs)."""
    return literal_column(f"'{status.value}'")


def later_run(job_id: Any, run_id: Any) -> Any:
    """``EXISTS`` a run of job ``job_id`` later than run ``run_id`` that is not skipped: the
    test of every job status mirror (a run drives its job's status only while it is the
    job's latest non-skipped run, ``lifecycle.job_mirror``)."""
    x = executions.alias("later")
    return exists().where(x.c.job_id == job_id, x.c.id > run_id,
                          x.c.status != status_is(RunStatus.SKIPPED))


def is_active() -> Any:
    """``status IN ('pending', 'running')``: the condition of the partial index
    ``ix_executions_active_job`` (job_id, status), word for word, its values in the text.
    SQLite uses a partial index only for a query whose WHERE holds the index's own condition,
    which bound values (``IN (?, ?)``) are not; the read of a job's live runs then walked the
    job's whole history (``ix_executions_job_id_id``), on every end of a run and every tick of
    a job an overlap policy limits (migration 0013)."""
    return executions.c.status.in_([status_is(RunStatus.PENDING), status_is(RunStatus.RUNNING)])


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


# -- the ticker's insert, at the driver ------------------------------------------------------
# the columns draft_row gives, in that order (worker is NULL until a claim)
_COLUMNS = ("job_id", "environment_id", "job_code", "job_type", "status", "source",
            "scheduled_for", "attempt", "trigger", "due_at", "pickup_deadline", "run_deadline",
            "timeout_seconds", "pick_up_time", "start_time", "end_time", "duration", "output",
            "error", "exit_code", "metadata", "created_at", "target_host", "target_tags",
            "payload")
_JSON = ("metadata", "payload")
# the RETURNING: the id and the unique key (which draft it is; a conflicting one returns none)
_RETURNED = (executions.c.id, executions.c.job_id, executions.c.source,
             executions.c.scheduled_for, executions.c.attempt, executions.c.target_host)
# rows per statement: a few forms compiled once (a 100-row form takes ~50 ms to compile),
# each under both drivers' parameter limits (25 per row)
CHUNKS = (100, 20, 4, 1)
_FORMS: WeakKeyDictionary[Database, dict[int, tuple[str, Any, tuple[Any, Any]]]] = (
    WeakKeyDictionary())


def _form(db: Database, n: int) -> tuple[str, Any, tuple[Any, Any]]:
    """(SQL text, getter of its positional values from the rows' values laid end to end,
    the JSON columns' bind processors) of the ``n``-row insert."""
    forms = _FORMS.setdefault(db, {})
    got = forms.get(n)
    if got is None:
        width = len(_COLUMNS)
        stmt = (db.insert(executions)
                .values([{c: bindparam(f"r{i}_{c}", type_=executions.c[c].type)
                          for c in _COLUMNS} for i in range(n)])
                .on_conflict_do_nothing(index_elements=RUN_KEY)
                .returning(*_RETURNED))
        comp = db.compiled(stmt)
        if comp.positiontup is None:
            raise TypeError("run_insert: a positional paramstyle is needed")
        place = {f"r{i}_{c}": i * width + k for i in range(n) for k, c in enumerate(_COLUMNS)}
        index = [place[name] for name in comp.positiontup]
        procs = comp._bind_processors
        json_procs = (procs.get("r0_metadata"), procs.get("r0_payload"))
        getter = itemgetter(*index)
        got = forms[n] = (comp.string, getter, json_procs)
    return got


def _ms(t: datetime | None) -> int | None:
    return None if t is None else to_ms(t)


def _driver_row(d: RunDraft, json_procs: tuple[Any, Any]) -> tuple[Any, ...]:
    job = d.job
    meta, pay = json_procs
    return (job.id, job.environment_id, job.name, job.type.value, d.status.value,
            d.source.value, to_ms(d.scheduled_for), d.attempt, d.trigger.value,
            to_ms(d.due_at), _ms(d.pickup_deadline), None, job.timeout_seconds, None, None,
            _ms(d.end_time), None, None, d.error, None,
            d.metadata if meta is None else meta(d.metadata), to_ms(d.created_at),
            d.target_host, d.target_tags, d.payload if pay is None else pay(d.payload))


def _run(run_id: int, d: RunDraft, row: tuple[Any, ...]) -> Run:
    """The run ``d`` became (its times as stored: whole milliseconds)."""
    job = d.job
    pickup, end = row[10], row[15]
    return Run(run_id, job.id, job.environment_id, job.name, job.type, d.status, d.source,
               from_ms(row[6]), d.attempt, d.trigger, from_ms(row[9]),
               None if pickup is None else from_ms(pickup), None, job.timeout_seconds, None,
               None, None if end is None else from_ms(end), None, None, d.error, None,
               d.metadata or {}, from_ms(row[21]), None, d.target_host, d.target_tags,
               d.payload)


async def insert_drafts(db: Database, c: Conn, drafts: Sequence[RunDraft]) -> list[Run]:
    """Insert ``drafts`` (``insert_runs``: a run whose key exists is skipped); the runs
    created, in the drafts' order."""
    if not drafts:
        return []
    json_procs = _form(db, 1)[2]
    rows = [_driver_row(d, json_procs) for d in drafts]
    which: dict[tuple[Any, ...], int] = {}
    for i, r in enumerate(rows):  # the first draft of a key is the one inserted
        which.setdefault((r[0], r[5], r[6], r[7], r[22] or ""), i)
    made: dict[int, int] = {}
    start = 0
    for n in CHUNKS:
        while len(rows) - start >= n:
            sql, getter, _ = _form(db, n)
            flat = [v for r in rows[start:start + n] for v in r]
            for got in await c.exec_driver_sql(sql, getter(flat)):
                at = which.get((got[1], got[2], got[3], got[4], got[5] or ""))
                if at is not None:
                    made[at] = got[0]
            start += n
    return [_run(made[i], drafts[i], rows[i]) for i in sorted(made)]
