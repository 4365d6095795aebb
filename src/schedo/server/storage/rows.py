"""Row -> record conversion (one place, so every query returns the same shapes)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ..domain.model import CatchUp, JobStatus, JobType, RunStatus, Source, Trigger
from ..domain.records import ApiKey, Environment, Job, Organization, Run
from .schema import jobs


def org(r: Any) -> Organization:
    return Organization(id=r.id, name=r.name, created_at=r.created_at)


def environment(r: Any, signature_key: str) -> Environment:
    """``signature_key``: the row's key, unsealed by the caller (sealing.py)."""
    return Environment(
        id=r.id,
        organization_id=r.organization_id,
        name=r.name,
        webhook_signature_key=signature_key,
        created_at=r.created_at,
    )


def api_key(r: Any) -> ApiKey:
    return ApiKey(
        id=r.id,
        organization_id=r.organization_id,
        environment_id=r.environment_id,
        name=r.name,
        prefix=r.prefix,
        digest=r.digest,
        admin=bool(r.admin),
        internal=bool(r.internal),
        revoked=bool(r.revoked),
        created_at=r.created_at,
        scope=r.scope,
    )


def job(r: Any) -> Job:
    return Job(
        id=r.id,
        environment_id=r.environment_id,
        name=r.name,
        type=_JOB_TYPE[r.type],
        cron_expression=r.cron_expression,
        timezone=r.timezone,
        anchor_at=r.anchor_at,
        catch_up=_CATCH_UP[r.catch_up],
        paused=bool(r.paused),
        muted=bool(r.muted),
        blocking=bool(r.blocking),
        timeout_seconds=r.timeout_seconds,
        max_retries=r.max_retries,
        retry_count=r.retry_count,
        metadata=r.metadata or {},
        webhook_url=r.webhook_url,
        command=r.command,
        status=_JOB_STATUS[r.status],
        last_run_at=r.last_run_at,
        next_run_at=r.next_run_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
        alert_after_failures=r.alert_after_failures or 1,
        max_duration_seconds=r.max_duration_seconds,
        success_within_seconds=r.success_within_seconds,
        pause_after_failures=r.pause_after_failures,
        paused_reason=r.paused_reason,
        consecutive_failures=r.consecutive_failures or 0,
        last_success_at=r.last_success_at,
        grace_seconds=r.grace_seconds,
        ping_uuid=r.ping_uuid,
        channels=r.channels,
        remind_every_seconds=r.remind_every_seconds,
        target=getattr(r, "target", None),
        jitter_seconds=r.jitter_seconds,
        paused_until=r.paused_until,
        skip_next=r.skip_next,
        crons=tuple(r.crons or ()),
        overlap=r.overlap,
        max_concurrency=r.max_concurrency,
        after=getattr(r, "after", None),
    )


# enum members by stored value: a dict lookup, where Enum(value) costs ~8x (hot: every run row)
_JOB_TYPE = {m.value: m for m in JobType}
_RUN_STATUS = {m.value: m for m in RunStatus}
_SOURCE = {m.value: m for m in Source}
_TRIGGER = {m.value: m for m in Trigger}
_CATCH_UP = {m.value: m for m in CatchUp}
_JOB_STATUS = {m.value: m for m in JobStatus}


def execution(r: Any) -> Run:
    return Run(
        id=r.id,
        job_id=r.job_id,
        environment_id=r.environment_id,
        job_code=r.job_code,
        job_type=_JOB_TYPE[r.job_type],
        status=_RUN_STATUS[r.status],
        source=_SOURCE[r.source],
        scheduled_for=r.scheduled_for,
        attempt=r.attempt,
        trigger=_TRIGGER[r.trigger],
        due_at=r.due_at,
        pickup_deadline=r.pickup_deadline,
        run_deadline=r.run_deadline,
        timeout_seconds=r.timeout_seconds,
        pick_up_time=r.pick_up_time,
        start_time=r.start_time,
        end_time=r.end_time,
        duration=r.duration,
        output=r.output,
        error=r.error,
        exit_code=r.exit_code,
        metadata=r.metadata or {},
        created_at=r.created_at,
        worker=getattr(r, "worker", None),
        target_host=getattr(r, "target_host", None),
        target_tags=getattr(r, "target_tags", None),
        payload=r.payload,
    )


# -- full rows by position (hot paths: the ticker, claims, reports) ----------------------------
# ``Row.attr`` looks each name up in the row's key map; a row of ``select(executions)`` or
# ``RETURNING *executions.c`` unpacks by position (Run's fields are the table's columns, in
# order: tests/unit/test_rows.py holds them to it), about twice as fast for a 27-column row.


def full_execution(r: Any) -> Run:
    """``execution`` of a row holding every executions column in table order."""
    (id_, job_id, env_id, code, job_type, status, source, scheduled_for, attempt, trigger,
     due_at, pickup_deadline, run_deadline, timeout_seconds, pick_up_time, start_time,
     end_time, duration, output, error, exit_code, metadata, created_at, worker, target_host,
     target_tags, payload) = r
    return Run(id_, job_id, env_id, code, _JOB_TYPE[job_type], _RUN_STATUS[status],
               _SOURCE[source], scheduled_for, attempt, _TRIGGER[trigger], due_at,
               pickup_deadline, run_deadline, timeout_seconds, pick_up_time, start_time,
               end_time, duration, output, error, exit_code, metadata or {}, created_at,
               worker, target_host, target_tags, payload)


# the Job's fields as columns of jobs, in the Job's order (select(*JOB_FIELDS) for ordered_job)
JOB_FIELDS = tuple(jobs.c[f.name] for f in fields(Job))
_CATCH_UP = {m.value: m for m in CatchUp}
_JOB_STATUS = {m.value: m for m in JobStatus}


def ordered_job(r: Any) -> Job:
    """``job`` of a row of ``JOB_FIELDS``."""
    (id_, env_id, name, type_, cron, tz, anchor_at, catch_up, paused, muted, blocking,
     timeout_seconds, max_retries, retry_count, metadata, webhook_url, command, status,
     last_run_at, next_run_at, created_at, updated_at, alert_after, max_duration,
     success_within, pause_after, paused_reason, failures, last_success_at, grace_seconds,
     ping_uuid, channels, remind_every, target, jitter_seconds, paused_until, skip_next,
     crons, overlap, max_concurrency, after) = r
    return Job(id_, env_id, name, _JOB_TYPE[type_], cron, tz, anchor_at, _CATCH_UP[catch_up],
               bool(paused), bool(muted), bool(blocking), timeout_seconds, max_retries,
               retry_count, metadata or {}, webhook_url, command, _JOB_STATUS[status],
               last_run_at, next_run_at, created_at, updated_at, alert_after or 1,
               max_duration, success_within, pause_after, paused_reason, failures or 0,
               last_success_at, grace_seconds, ping_uuid, channels, remind_every, target,
               jitter_seconds, paused_until, skip_next, tuple(crons or ()), overlap,
               max_concurrency, after)
