"""The audit log's reads (issue 22): an environment's events, filtered and paged. The events
themselves are written by storage, in the transaction of each change (``domain/audit.py``)."""

from __future__ import annotations

from ..domain.audit import ACTIONS, AuditEvent, AuditQuery
from ..domain.errors import InvalidInput
from .context import Principal, Services


def checked(q: AuditQuery) -> AuditQuery:
    """400 for a filter that can match nothing by mistake (an unknown action, since after
    until)."""
    if q.action is not None and q.action not in ACTIONS:
        raise InvalidInput(f"action: must be one of {', '.join(sorted(ACTIONS))}")
    if q.since is not None and q.until is not None and q.since > q.until:
        raise InvalidInput("since: must not be after until")
    return q


async def events(svc: Services, p: Principal, q: AuditQuery) -> list[AuditEvent]:
    """The events of the caller's environment (an environment key sees only its own), newest
    first. NotFound for a ``job_id`` unknown there (a foreign job is like a missing one)."""
    return await svc.store.list_audit(p.env_id, checked(q))


async def job_events(svc: Services, p: Principal, job_id: int, limit: int = 20
                     ) -> list[AuditEvent]:
    """The job's last events (its page in the dashboard)."""
    return await svc.store.list_audit(p.env_id, AuditQuery(job_id=job_id, limit=limit))
