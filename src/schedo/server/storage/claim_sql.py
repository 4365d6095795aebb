"""The claim of a worker's pull as statements built once (``RunSql.claim``): a herd of 10,000
runs is handed out in ~100 claims of 100, and building the claim (a SELECT of the pick, the
compare-and-swap UPDATE, the key check, RETURNING) and its cache key per call cost about as
much as running it. Every value is a bound parameter; one statement per shape (how the codes
are bound: one parameter each for up to ``AMONG_INLINE`` codes, one for all beyond; with or
without a key check; the job types; SQLite or PostgreSQL), none with an expanding list, so
each runs as a driver statement on SQLite (``prepared.py``).

The job status mirror of the claimed runs is one statement too (``mirror_claimed``) instead of
an ``executemany`` of one correlated UPDATE per run: each job whose latest non-skipped run
was just claimed becomes ``running``, with that run's retries (``attempt - 1``), exactly what
``lifecycle.job_mirror`` gives a running run.

Claims of agents (command runs, whose targets depend on what the agent announced) keep the
statement built per call in ``sql_runs.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    bindparam,
    exists,
    func,
    literal,
    select,
    true,
    update,
)

from ..domain import policies
from ..domain.model import JobStatus, JobType, RunStatus
from ..domain.timefmt import to_ms
from .db import AMONG_INLINE, Conn, Database
from .prepared import Prepared
from .run_insert import later_run, status_is
from .schema import api_keys, environments, executions, jobs

# per Database (its dialect), then per shape; weak: a disposed Database takes its own along
_CACHE: WeakKeyDictionary[Database, dict[tuple[Any, ...], Any]] = WeakKeyDictionary()
_MIRROR: WeakKeyDictionary[Database, Prepared] = WeakKeyDictionary()


def _codes_mode(codes: Sequence[str] | None) -> str:
    """``all`` (no codes named), ``bound`` (many: one parameter) or ``in<n>`` (a few: ``n``
    parameters, one statement per count)."""
    if codes is None:
        return "all"
    return f"in{len(codes)}" if len(codes) <= AMONG_INLINE else "bound"


def _codes_filter(db: Database, mode: str) -> Any:
    """``job_code IN :codes`` as ``Database.among`` words it: a few codes as a plain ``IN``
    list of parameters ``code0``, ``code1``, …; many as one parameter ``codes``."""
    col = executions.c.job_code
    if mode == "all":
        return true()
    if mode == "bound":
        return db.among_bound(col, "codes")
    return col.in_([bindparam(f"code{i}", type_=col.type) for i in range(int(mode[2:]))])


def _pick(db: Database, mode: str, keyed: bool, types: tuple[str, ...]) -> Any:
    job_type = executions.c.job_type if mode == "all" else db.not_indexed(executions.c.job_type)
    q = (
        select(executions.c.id)
        .where(
            executions.c.status == status_is(RunStatus.PENDING),
            executions.c.environment_id == bindparam("env"),
            _codes_filter(db, mode),
            executions.c.due_at <= bindparam("due_by", type_=executions.c.due_at.type),
            job_type.in_([literal(t, String()) for t in types]),  # not expanding: Prepared
        )
        .order_by(executions.c.due_at, executions.c.id)
        .limit(bindparam("limit"))
    )
    if JobType.COMMAND.value in types:  # an agent that announced nothing: untargeted runs
        q = q.where(executions.c.target_host.is_(None), executions.c.target_tags.is_(None))
    if keyed:  # the key is unrevoked and the environment exists (two primary-key lookups)
        q = q.where(and_(
            exists().where(api_keys.c.id == bindparam("key"), api_keys.c.revoked.is_(False)),
            exists().where(environments.c.id == bindparam("env")),
        ))
    return db.skip_locked(q)


def claim_statement(db: Database, codes: Sequence[str] | None, types: Sequence[str],
                    keyed: bool) -> Prepared:
    """``UPDATE executions … WHERE id IN (<pick>) AND status = 'pending' RETURNING *``, built
    once per shape (``claim_params`` gives its values)."""
    mode, kinds = _codes_mode(codes), tuple(types)
    cache = _CACHE.setdefault(db, {})  # the statements depend on the database's dialect
    key = (mode, kinds, keyed)
    stmt = cache.get(key)
    if stmt is None:
        # no expanding parameter: a driver statement on SQLite (prepared.py); PostgreSQL
        # claims and mirrors in one statement, a transaction of its own (one_statement)
        pick = _pick(db, mode, keyed, kinds)
        if db.claims_alone:
            stmt = cache[key] = Prepared(_claimed_and_mirrored(db, pick), writes=True)
        else:
            stmt = cache[key] = Prepared(_claimed(db, pick))
    return stmt


# A claim of many codes on SQLite looks first among the earliest WINDOW x limit pending runs
# of the environment's types (``window_statement``); at most WINDOW_MAX rows.
WINDOW = 8
WINDOW_MAX = 4000


def window_size(limit: int) -> int:
    return min(WINDOW_MAX, max(limit * WINDOW, 64))


def window_statement(db: Database, codes: Sequence[str] | None, types: Sequence[str],
                     keyed: bool) -> Prepared | None:
    """SQLite, a claim naming many codes (a worker names up to 5,000): the claim among the
    earliest ``window`` pending runs of the environment's job types, walked in due order on
    ``ix_executions_pending_type``, those of the named codes in due order; None elsewhere.

    The codes' own index answers the same pick with one probe per named code and a sort of
    every match (a herd's worker named 2,500 codes at each of ~200 pulls: 5.7 ms a pick, 18 %
    of the herd's server CPU); the window reads ~8 rows per run claimed (1.6 ms). It is exact
    as far as it reaches: every pending run of a named code due before the window's last one
    is in it. ``RunSql.claim`` claims the rest, when the window gave fewer than ``limit``,
    with ``claim_statement`` (the runs already claimed are no longer pending), so the runs
    claimed and their order are those of ``claim_statement`` alone."""
    if not db.windows_claims or _codes_mode(codes) != "bound":
        return None
    kinds = tuple(types)
    cache = _CACHE.setdefault(db, {})
    key = ("window", kinds, keyed)
    stmt = cache.get(key)
    if stmt is None:
        stmt = cache[key] = Prepared(_claimed(db, _window_pick(db, keyed, kinds)))
    return stmt  # type: ignore[no-any-return]


def _window_pick(db: Database, keyed: bool, types: tuple[str, ...]) -> Any:
    e = executions.c
    inner = (
        select(e.id, e.job_code, e.due_at)
        .where(
            e.status == status_is(RunStatus.PENDING),
            # "+ 0": not the codes' index (led by the environment); the type's, in due order
            e.environment_id + 0 == bindparam("env"),
            e.due_at <= bindparam("due_by", type_=e.due_at.type),
            e.job_type.in_([literal(t, String()) for t in types]),
        )
        .order_by(e.due_at, e.id)
        .limit(bindparam("window"))
    )
    if JobType.COMMAND.value in types:
        inner = inner.where(e.target_host.is_(None), e.target_tags.is_(None))
    w = inner.subquery("w")
    q = (select(w.c.id).where(db.among_bound(w.c.job_code, "codes"))
         .order_by(w.c.due_at, w.c.id).limit(bindparam("limit")))
    if keyed:
        q = q.where(and_(
            exists().where(api_keys.c.id == bindparam("key"), api_keys.c.revoked.is_(False)),
            exists().where(environments.c.id == bindparam("env")),
        ))
    return q


def _claimed(db: Database, pick: Any) -> Any:
    """``UPDATE executions … WHERE id IN (<pick>) AND status = 'pending' RETURNING *``."""
    deadline = bindparam("now_ms", type_=BigInteger()) + (
        executions.c.timeout_seconds + policies.RUN_GRACE_SECONDS) * 1000
    return (
        update(executions)
        .where(executions.c.id.in_(db.picked(pick)),
               executions.c.status == status_is(RunStatus.PENDING))
        .values(
            status=RunStatus.RUNNING.value,
            pick_up_time=bindparam("picked_at", type_=executions.c.pick_up_time.type),
            start_time=bindparam("started_at", type_=executions.c.start_time.type),
            run_deadline=deadline,
            worker=bindparam("worker", type_=executions.c.worker.type),
        )
        .returning(*executions.c)
    )


def _claimed_and_mirrored(db: Database, pick: Any) -> Any:
    """PostgreSQL: ``_claimed`` and ``mirror_claimed`` in one statement, ``WITH claimed AS
    (UPDATE executions … RETURNING *), mirrored AS (UPDATE jobs … FROM claimed) SELECT * FROM
    claimed``. The mirror reads the statement's snapshot: a later non-skipped run of the
    job, the same test as ``mirror_claimed`` (a claim changes no run's skipped-ness); rows
    are locked runs first, then jobs, as in the two statements it replaces."""
    claimed = _claimed(db, pick).cte("claimed")
    mirror = (update(jobs).where(jobs.c.id == claimed.c.job_id,
                                 ~later_run(claimed.c.job_id, claimed.c.id))
              .values(status=JobStatus.RUNNING.value, retry_count=claimed.c.attempt - 1)
              .cte("mirrored"))
    return select(claimed).add_cte(mirror)


def claim_any_statement(db: Database, types: Sequence[str]) -> Prepared:
    """The push dispatcher's claim (``RunSql.claim_any``): due pending runs of ``types`` in
    any environment, built once per set of types (``claim_params`` without environment,
    codes or key give its values; the dispatcher looks after every batch of reports)."""
    cache = _CACHE.setdefault(db, {})
    key = ("any", tuple(types))
    stmt = cache.get(key)
    if stmt is None:
        pick = db.skip_locked(
            select(executions.c.id)
            .where(executions.c.status == status_is(RunStatus.PENDING),
                   executions.c.job_type.in_([literal(t, String()) for t in types]),
                   executions.c.due_at <= bindparam("due_by", type_=executions.c.due_at.type))
            .order_by(executions.c.due_at, executions.c.id)
            .limit(bindparam("limit")))
        stmt = cache[key] = Prepared(_claimed(db, pick))
    return stmt


async def run_claim(c: Conn, stmt: Any, params: dict[str, Any]) -> list[Any]:
    """The rows (every executions column, in order) ``claim_statement``'s statement claimed."""
    if isinstance(stmt, Prepared):
        return await stmt.all(c, params)
    return list(await c.execute(stmt, params))


def claim_params(db: Database, env_id: int | None, codes: Sequence[str] | None, now: datetime,
                 limit: int, key_id: int | None, worker: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"env": env_id, "due_by": now, "limit": limit,
                              "picked_at": now, "started_at": now, "now_ms": to_ms(now),
                              "worker": worker}
    if key_id is not None:
        params["key"] = key_id
    mode = _codes_mode(codes)
    if mode == "bound":
        params["codes"] = _among_value(db, tuple(codes or ()))
    elif mode != "all":
        params.update((f"code{i}", code) for i, code in enumerate(codes or ()))
    return params


_AMONG: WeakKeyDictionary[Database, dict[tuple[str, ...], Any]] = WeakKeyDictionary()


def _among_value(db: Database, codes: tuple[str, ...]) -> Any:
    """``db.among_value(codes)``, remembered for the last few lists: a worker names the same
    thousands of codes at every pull (their JSON cost ~1 % of a herd's server CPU)."""
    seen = _AMONG.setdefault(db, {})
    got = seen.get(codes)
    if got is None:
        if len(seen) >= 32:
            seen.clear()
        got = seen[codes] = db.among_value(codes)
    return got


def _mirror_statement(db: Database) -> Prepared:
    stmt = _MIRROR.get(db)
    if stmt is None:
        e = executions.alias("e")
        latest = (
            select(e.c.job_id, e.c.attempt)
            .where(db.among_bound(e.c.id, "ids"), ~later_run(e.c.job_id, e.c.id))
            .subquery("claimed")
        )
        stmt = _MIRROR[db] = Prepared(
            update(jobs)
            .where(jobs.c.id == latest.c.job_id)
            .values(status=JobStatus.RUNNING.value, retry_count=latest.c.attempt - 1)
            .returning(jobs.c.id)  # rows, so that it runs as a driver statement (prepared.py)
        )
    return stmt


async def mirror_claimed(db: Database, c: Conn, ids: Sequence[int]) -> None:
    """The jobs of the just-claimed runs ``ids`` whose latest non-skipped run is one of them:
    status running, retry_count its attempt - 1 (one ``UPDATE … FROM``, built once per
    database, the ids one parameter: a driver statement on SQLite)."""
    if ids:
        await _mirror_statement(db).all(c, {"ids": db.among_value(sorted(ids))})


_REPORTED: WeakKeyDictionary[Database, Prepared] = WeakKeyDictionary()


def reported_statement(db: Database) -> Prepared:
    """The runs a batch of reports names (``:ids``, ``among_value`` of their ids) in one
    environment (``:env``), in id order, locked on PostgreSQL: built once per database."""
    got = _REPORTED.get(db)
    if got is None:
        q = (select(executions)
             .where(db.among_bound(executions.c.id, "ids"),
                    executions.c.environment_id == bindparam("env"))
             .order_by(executions.c.id))  # locks taken in one order: no deadlock
        got = _REPORTED[db] = Prepared(q, db.for_update(q))
    return got


_EARLIEST: dict[tuple[str, ...], Any] = {}


def earliest_due_statement(types: Sequence[str]) -> Any:
    """The earliest due time of a pending run of ``types`` (the push dispatcher asks after
    every batch of reports), built once per set of types."""
    key = tuple(types)
    stmt = _EARLIEST.get(key)
    if stmt is None:
        stmt = _EARLIEST[key] = select(func.min(executions.c.due_at)).where(
            executions.c.status == status_is(RunStatus.PENDING),
            executions.c.job_type.in_([literal(t, String()) for t in key]))
    return stmt
