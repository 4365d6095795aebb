"""The audit log (issue 22): its storage protocol and promises.

Events are written by the storage calls that make the change they record (``actor``
arguments of ``JobStore``, ``ExecutionStore.trigger``, ``KeyStore``, ``EnvironmentStore``),
in the same transaction: a refused or failed change records nothing, and a call that changes
nothing (an identical redefinition, a pause of a paused job) records nothing either. Part of
the storage contract; the rules that hold for every method are in ``contracts/__init__.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ...domain.audit import AuditEvent, AuditQuery
from .ops import PruneBatch


class AuditStore(Protocol):
    async def list_audit(self, env_id: int, q: AuditQuery) -> list[AuditEvent]:
        """The environment's events matching ``q`` (job, action, actor key, ``since`` <= at <
        ``until``), newest first, ids < ``q.cursor``, at most ``q.limit``. An event of a job
        stays after the job is deleted. NotFound when nothing matches and ``q.job_id``
        names neither a job of the environment nor one with events there (a foreign job is
        like a missing one)."""

    async def prune_audit(self, before: datetime, after_id: int, limit: int) -> PruneBatch:
        """As ``RetentionStore.prune_executions`` for events older than ``before``."""
