"""The row a use case locks first, so that its check and its write hold together when several
server processes race on PostgreSQL (``Database.for_update``; on SQLite a plain read, its
writers being serialised by BEGIN IMMEDIATE already).

Which row serialises what (tests/contract/test_store_races.py):

- a job's row: its triggers (a blocking job's "no run active" check; ``run_rows.job_in_env``
  with ``lock``);
- an environment's row: the definitions that name upstream jobs (``after``: the chain graph
  is checked for a cycle under it, storage/sql_jobs.py);
- an organisation's row: its environments' deletes (one is always left) and its notification
  addresses (one spelling each).

A job's delete locks nothing first (its runs before the job, as a completion locks them): it
answers NotFound when its own ``DELETE`` found the row gone, and is tried again after a
deadlock (storage/sql_jobs.py).

Always the parent first, then anything below it, so that two use cases never wait on each
other in opposite orders.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from .db import Conn, Database
from .schema import environments, organizations

_ENV = select(environments.c.id).where(environments.c.id == bindparam("env_id"))
_ORG = select(organizations.c.id).where(organizations.c.id == bindparam("org_id"))


async def environment(db: Database, c: Conn, env_id: int) -> None:
    """Lock the environment's row (nothing when it is gone)."""
    await c.execute(db.for_update(_ENV), {"env_id": env_id})


async def organization(db: Database, c: Conn, org_id: int) -> None:
    """Lock the organisation's row (nothing when it is gone)."""
    await c.execute(db.for_update(_ORG), {"org_id": org_id})
