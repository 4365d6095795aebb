"""The row a use case locks first, so that its check and its write hold together when several
server processes race on PostgreSQL (``Database.for_update``; on SQLite a plain read, its
writers being serialised by BEGIN IMMEDIATE already).

Which row serialises what (tests/contract/test_store_races.py):

- a job's row: its triggers, reruns and delete (a blocking job's "no run active" check, one
  delete and one audit event);
- an environment's row: the definitions that name upstream jobs (``after``: the chain graph
  is checked for a cycle under it, storage/sql_jobs.py);
- an organisation's row: its environments' deletes (one is always left) and its notification
  addresses (one spelling each).

Always the parent first, then anything below it, so that two use cases never wait on each
other in opposite orders.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from ..domain.errors import NotFound
from ..domain.records import Job
from . import rows
from .db import Conn, Database
from .schema import environments, jobs, organizations

_JOB = select(jobs).where(jobs.c.id == bindparam("job_id"),
                          jobs.c.environment_id == bindparam("env_id"))
_ENV = select(environments.c.id).where(environments.c.id == bindparam("env_id"))
_ORG = select(organizations.c.id).where(organizations.c.id == bindparam("org_id"))


async def job(db: Database, c: Conn, env_id: int, job_id: int) -> Job:
    """The job, locked until the transaction ends; NotFound unless it is in ``env_id`` (a
    job deleted by a racer that held the lock first is not found either)."""
    r = (await c.execute(db.for_update(_JOB), {"job_id": job_id, "env_id": env_id})).first()
    if r is None:
        raise NotFound(f"job {job_id} not found")
    return rows.job(r)


async def environment(db: Database, c: Conn, env_id: int) -> None:
    """Lock the environment's row (nothing when it is gone)."""
    await c.execute(db.for_update(_ENV), {"env_id": env_id})


async def organization(db: Database, c: Conn, org_id: int) -> None:
    """Lock the organisation's row (nothing when it is gone)."""
    await c.execute(db.for_update(_ORG), {"org_id": org_id})
