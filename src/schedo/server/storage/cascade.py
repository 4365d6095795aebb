"""What a delete takes with it, in the deleting transaction (SPEC 2: an id never names
another thing, and nothing keyed by a deleted row outlives it).

Explicit statements rather than ``ON DELETE CASCADE`` alone: some rows refer by id without a
foreign key (notifications, worker rows), and SQLite enforces foreign keys only with its
pragma on. Child rows go first, so the statements also hold with foreign keys enforced.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from .db import Conn
from .schema import (
    alert_channels,
    api_keys,
    audit_events,
    environments,
    execution_causes,
    executions,
    jobs,
    notification_deliveries,
    notifications,
    worker_connections,
    worker_heartbeats,
)


async def delete_job(c: Conn, job_id: int) -> bool:
    """The job, its runs, and its notifications with their deliveries (its history);
    whether this transaction deleted the job's row (False: a concurrent delete did, on
    PostgreSQL, while this one waited for the rows it shared)."""
    owned = select(notifications.c.id).where(notifications.c.job_id == job_id)
    await c.execute(
        delete(notification_deliveries).where(notification_deliveries.c.notification_id.in_(owned))
    )
    await c.execute(delete(notifications).where(notifications.c.job_id == job_id))
    await c.execute(delete(execution_causes).where(
        (execution_causes.c.job_id == job_id) | (execution_causes.c.cause_job_id == job_id)))
    await c.execute(delete(executions).where(executions.c.job_id == job_id))
    return bool((await c.execute(delete(jobs).where(jobs.c.id == job_id))).rowcount)


async def delete_environment(c: Conn, env_id: int) -> None:
    """The environment and everything in it: jobs and their history, keys, worker rows."""
    owned = select(notifications.c.id).where(notifications.c.environment_id == env_id)
    await c.execute(
        delete(notification_deliveries).where(notification_deliveries.c.notification_id.in_(owned))
    )
    await c.execute(delete(notifications).where(notifications.c.environment_id == env_id))
    await c.execute(delete(execution_causes).where(execution_causes.c.environment_id == env_id))
    await c.execute(delete(executions).where(executions.c.environment_id == env_id))
    await c.execute(delete(jobs).where(jobs.c.environment_id == env_id))
    await c.execute(delete(worker_connections).where(worker_connections.c.environment_id == env_id))
    await c.execute(delete(worker_heartbeats).where(worker_heartbeats.c.environment_id == env_id))
    await c.execute(delete(api_keys).where(api_keys.c.environment_id == env_id))
    await c.execute(delete(alert_channels).where(alert_channels.c.environment_id == env_id))
    await c.execute(delete(audit_events).where(audit_events.c.environment_id == env_id))
    await c.execute(delete(environments).where(environments.c.id == env_id))
