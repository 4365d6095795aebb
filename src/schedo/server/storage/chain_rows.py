"""Chains in storage (contract: contracts/chains.py): fire the downstream jobs of the runs an
end finished, in the transaction that ended them (``run_rows.after_end``). The reads of a
job's or a run's chain are in ``sql_chains.py``.

Whether a downstream job fires is ``domain.chains.choose``; this module reads the ends it
needs, and writes the run and its causes. Exactly once: the downstream job rows are locked
(PostgreSQL; SQLite's writes are serial anyway) before their causes are read, so two
transactions ending the two halves of a fan-in see each other's end, and the unique key
(downstream job, upstream run) refuses a second run of the same end outright.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update

from ..domain import chains, lifecycle
from ..domain.chains import End
from ..domain.model import JobStatus, RunStatus, Source, Trigger
from ..domain.overlap import HELD, Slots
from ..domain.records import Job, Run
from . import locks, rows
from .contracts.chains import report_chained
from .db import Conn, Database
from .prepared import Prepared
from .run_insert import as_dt, draft_row, insert_runs, is_active
from .schema import execution_causes, executions, jobs

causes = execution_causes
ENDED = [RunStatus.COMPLETED.value, RunStatus.FAILED.value, RunStatus.EXPIRED.value]
CANDIDATES = 50  # newest ends of an upstream job looked at per firing
# every end of a run asks (and mostly finds none): a driver statement, one per environment
CHAINED = Prepared(select(jobs.c.id, jobs.c.environment_id, jobs.c.name, jobs.c.after).where(
    jobs.c.environment_id == bindparam("env"), jobs.c.after.is_not(None)))


async def refuse_cycle(db: Database, c: Conn, env_id: int, name: str,
                       after: dict[str, Any]) -> None:
    """``chains.refuse_cycle`` for job ``name`` waiting for ``after`` (its stored form), on
    the environment's chain graph as committed, under the environment's lock: of two
    definitions that would close a cycle together, the second to take the lock sees the
    first and is refused (the service's check ran on an earlier read)."""
    await locks.environment(db, c, env_id)
    graph: dict[str, list[str]] = {}
    for r in await CHAINED.all(c, {"env": env_id}):
        spec = chains.from_json(r.after)
        if spec is not None:
            graph[r.name] = list(spec.jobs)
    wanted = chains.from_json(after)
    if wanted is not None:
        chains.refuse_cycle(name, wanted, graph)


@dataclass(frozen=True, slots=True)
class _Up:
    id: int
    max_retries: int


async def fire_chains(db: Database, c: Conn, ended: Sequence[Run], now: datetime) -> list[Run]:
    """The downstream runs the ends in ``ended`` cause (``chains.choose``), created with
    their causes; reported to ``collect_chained``."""
    finals = [e for e in ended if e.status.value in ENDED and e.end_time is not None]
    if not finals:
        return []
    downstream: dict[tuple[int, str], list[int]] = {}
    for env in sorted({e.environment_id for e in finals}):
        for r in await CHAINED.all(c, {"env": env}):
            spec = chains.from_json(r.after)
            for up in spec.jobs if spec else ():
                downstream.setdefault((r.environment_id, up), []).append(r.id)
    hits = [(e, d) for e in finals for d in downstream.get((e.environment_id, e.job_code), ())]
    if not hits:
        return []
    locked = db.for_update(select(jobs).where(jobs.c.id.in_(sorted({d for _, d in hits})))
                           .order_by(jobs.c.id))
    found = {j.id: j for j in map(rows.job, await c.execute(locked))}
    ups = await _upstreams(c, found.values())
    made: list[Run] = []
    for e, d in sorted(hits, key=lambda h: (h[0].end_time, h[0].id, h[1])):
        job = found.get(d)
        if job is None or job.paused:
            continue
        run = await _fire_one(db, c, job, e, ups, now)
        if run is not None:
            made.append(run)
    report_chained(made)
    return made


async def _upstreams(c: Conn, downstream: Any) -> dict[tuple[int, str], _Up]:
    """The upstream jobs of ``downstream`` by (environment, name)."""
    wanted: dict[int, set[str]] = {}
    for j in downstream:
        spec = chains.from_json(j.after)
        wanted.setdefault(j.environment_id, set()).update(spec.jobs if spec else ())
    out: dict[tuple[int, str], _Up] = {}
    for env, names in wanted.items():
        res = await c.execute(select(jobs.c.id, jobs.c.name, jobs.c.max_retries).where(
            jobs.c.environment_id == env, jobs.c.name.in_(sorted(names))))
        out.update(((env, r.name), _Up(r.id, r.max_retries)) for r in res)
    return out


def _end(r: Any, max_retries: int) -> End:
    return End(r.id, r.job_code, RunStatus(r.status), r.end_time, r.attempt, max_retries)


async def _fire_one(db: Database, c: Conn, job: Job, e: Run,
                    ups: dict[tuple[int, str], _Up], now: datetime) -> Run | None:
    after = chains.from_json(job.after)
    mine = ups.get((job.environment_id, e.job_code))
    if after is None or mine is None or mine.id != e.job_id:
        return None
    trigger = _end(e, mine.max_retries)
    if not chains.counts(trigger, after.on):
        return None
    taken = await c.execute(select(causes.c.id).where(causes.c.job_id == job.id,
                                                      causes.c.cause_id == e.id))
    if taken.first() is not None:  # a replayed end: it caused its run already
        return None
    window = timedelta(seconds=after.within_seconds)
    candidates: dict[str, list[End]] = {}
    floors: dict[str, datetime | None] = {}
    for name in after.jobs:
        up = ups.get((job.environment_id, name))
        if up is None:  # an upstream job deleted since: the chain waits for it
            return None
        floors[name] = as_dt((await c.execute(select(func.max(causes.c.cause_end)).where(
            causes.c.job_id == job.id, causes.c.cause_job_id == up.id))).scalar_one_or_none())
        if name == e.job_code:
            continue
        used = exists().where(causes.c.job_id == job.id, causes.c.cause_id == executions.c.id)
        res = await c.execute(
            select(executions.c.id, executions.c.job_code, executions.c.status,
                   executions.c.end_time, executions.c.attempt)
            .where(executions.c.job_id == up.id, executions.c.status.in_(ENDED),
                   executions.c.end_time >= trigger.end_time - window,
                   executions.c.end_time <= trigger.end_time + window, ~used)
            .order_by(executions.c.id.desc()).limit(CANDIDATES))
        candidates[name] = [_end(r, up.max_retries) for r in res]
    chosen = chains.choose(after, trigger, candidates, floors)
    if chosen is None:
        return None
    return await _create(db, c, job, chosen, ups, now)


async def _create(db: Database, c: Conn, job: Job, chosen: list[End],
                  ups: dict[tuple[int, str], _Up], now: datetime) -> Run | None:
    """The downstream run of ``chosen`` (through the job's overlap policy) and its causes."""
    instant = chains.fired_at(chosen)
    last = as_dt((await c.execute(select(func.max(executions.c.scheduled_for)).where(
        executions.c.job_id == job.id, executions.c.source == Source.CHAIN.value))
    ).scalar_one_or_none())
    if last is not None and last >= instant:  # two cycles ending in one millisecond
        instant = last + timedelta(milliseconds=1)
    live = (await c.execute(select(func.count(), func.count().filter(executions.c.due_at >= HELD))
                            .where(executions.c.job_id == job.id,
                                   is_active()))).one()
    run, hold, error = Slots(active=live[0], held=live[1] > 0).decide(job)
    d = lifecycle.draft(job, status=RunStatus.PENDING if run else RunStatus.SKIPPED,
                        source=Source.CHAIN, scheduled_for=instant, trigger=Trigger.CHAIN,
                        due_at=HELD if hold else now, now=now, error=error)
    r = (await c.execute(insert_runs(db), draft_row(d))).first()
    if r is None:  # the key is taken: another process made this run
        return None
    made = rows.execution(r)
    await c.execute(db.insert(causes).on_conflict_do_nothing(
        index_elements=["job_id", "cause_id"]), [
        {"environment_id": job.environment_id, "job_id": job.id, "execution_id": made.id,
         "cause_job_id": ups[(job.environment_id, x.job_name)].id, "cause_id": x.run_id,
         "cause_end": x.end_time, "created_at": now} for x in chosen])
    if made.status is RunStatus.PENDING:
        await c.execute(update(jobs).where(jobs.c.id == job.id).values(
            status=JobStatus.PENDING.value, retry_count=0, last_run_at=instant))
    return made
