"""The audit log's reads and pruning (contract: contracts.AuditStore)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select

from ..domain.audit import AuditEvent, AuditQuery, Kind
from ..domain.errors import NotFound
from . import audit_rows
from .contracts import PruneBatch
from .db import Database
from .schema import audit_events, jobs

a_ = audit_events.c


class AuditSql:
    db: Database

    async def list_audit(self, env_id: int, q: AuditQuery) -> list[AuditEvent]:
        stmt = select(audit_events).where(a_.environment_id == env_id)
        if q.job_id is not None:
            stmt = stmt.where(a_.object_kind == Kind.JOB.value, a_.object_id == q.job_id)
        if q.action is not None:
            stmt = stmt.where(a_.action == q.action)
        if q.actor_key_id is not None:
            stmt = stmt.where(a_.actor_key_id == q.actor_key_id)
        if q.since is not None:
            stmt = stmt.where(a_.at >= q.since)
        if q.until is not None:
            stmt = stmt.where(a_.at < q.until)
        if q.cursor is not None:
            stmt = stmt.where(a_.id < q.cursor)
        async with self.db.read() as c:
            rows = list(await c.execute(stmt.order_by(a_.id.desc()).limit(q.limit)))
            if not rows and q.job_id is not None:
                # a job of the environment, or a deleted one that left events here
                known = select(
                    exists().where(jobs.c.id == q.job_id, jobs.c.environment_id == env_id),
                    exists().where(a_.environment_id == env_id, a_.object_id == q.job_id,
                                   a_.object_kind == Kind.JOB.value))
                if not any((await c.execute(known)).one()):
                    raise NotFound(f"job {q.job_id} not found")
        return [audit_rows.event(r) for r in rows]

    async def prune_audit(self, before: datetime, after_id: int, limit: int) -> PruneBatch:
        async with self.db.read() as c:
            window = list(await c.execute(
                select(a_.id, a_.at).where(a_.id > after_id).order_by(a_.id).limit(limit)))
        if not window:
            return PruneBatch(deleted=0, next_after_id=after_id, done=True)
        upto = window[-1].id
        old = sum(1 for r in window if r.at < before)
        done = len(window) < limit or old == 0
        if old == 0:
            return PruneBatch(deleted=0, next_after_id=upto, done=done)
        async with self.db.write() as c:
            res = await c.execute(delete(audit_events).where(
                a_.id > after_id, a_.id <= upto, a_.at < before))
        return PruneBatch(deleted=res.rowcount, next_after_id=upto, done=done)
