"""Reads of chains (contract: contracts/chains.ChainStore): the graph of an environment, a
job's upstream and downstream jobs, a run's causes and effects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from ..domain import chains
from ..domain.errors import NotFound
from ..domain.model import Source
from ..domain.records import Run
from . import rows
from .chain_rows import CHAINED, causes
from .contracts.chains import JobChain, RunChain
from .db import Database
from .run_rows import job_in_env
from .schema import executions, jobs


def _downstream_of(rows_: Any, name: str) -> list[int]:
    out = []
    for r in rows_:
        spec = chains.from_json(r.after)
        if spec is not None and name in spec.jobs:
            out.append(r.id)
    return out


class ChainSql:
    db: Database

    async def chain_graph(self, env_id: int) -> dict[str, list[str]]:
        async with self.db.read() as c:
            res = await CHAINED.all(c, {"env": env_id})
            out = {}
            for r in res:
                spec = chains.from_json(r.after)
                if spec is not None:
                    out[r.name] = list(spec.jobs)
            return out

    async def job_chain(self, env_id: int, job_id: int) -> JobChain:
        async with self.db.read() as c:
            job = await job_in_env(c, env_id, job_id)
            spec = chains.from_json(job.after)
            names = list(spec.jobs) if spec else []
            ups = {j.name: j for j in map(rows.job, await c.execute(select(jobs).where(
                jobs.c.environment_id == env_id, jobs.c.name.in_(names))))} if names else {}
            down_ids = _downstream_of(await CHAINED.all(c, {"env": env_id}), job.name)
            down = [rows.job(r) for r in await c.execute(
                select(jobs).where(jobs.c.id.in_(down_ids)).order_by(jobs.c.name))
            ] if down_ids else []
        return JobChain(job=job, upstream=[ups[n] for n in names if n in ups],
                        missing=[n for n in names if n not in ups], downstream=down)

    async def run_chain(self, env_id: int, exec_id: int) -> RunChain:
        async with self.db.read() as c:
            r = (await c.execute(select(executions).where(
                executions.c.id == exec_id, executions.c.environment_id == env_id))).first()
            if r is None:
                raise NotFound(f"execution {exec_id} not found")
            run = rows.execution(r)
            cause_list: list[Run] = []
            if run.source is Source.CHAIN:  # a retry shows the causes of its first attempt
                cycle = select(executions.c.id).where(
                    executions.c.job_id == run.job_id,
                    executions.c.source == Source.CHAIN.value,
                    executions.c.scheduled_for == bindparam(
                        "at", type_=executions.c.scheduled_for.type))
                cause_list = [rows.execution(x) for x in await c.execute(
                    select(executions).where(executions.c.id.in_(
                        select(causes.c.cause_id).where(causes.c.execution_id.in_(cycle))))
                    .order_by(executions.c.id), {"at": run.scheduled_for})]
            effects = [rows.execution(x) for x in await c.execute(
                select(executions).where(executions.c.id.in_(
                    select(causes.c.execution_id).where(causes.c.cause_id == run.id)))
                .order_by(executions.c.id))]
        return RunChain(run=run, causes=cause_list, effects=effects)
