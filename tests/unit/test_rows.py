"""The positional row readers (``rows.full_execution``, ``rows.ordered_job``) give the same
records as the readers by name: Run's fields are the executions columns in order, and
``JOB_FIELDS`` the Job's fields in order."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import fields
from datetime import UTC, datetime

from schedo.server.domain.records import Job, Run
from schedo.server.storage import rows
from schedo.server.storage.schema import executions, jobs

T0 = datetime(2026, 12, 7, 1, 2, 3, 456000, tzinfo=UTC)


def test_run_fields_are_the_executions_columns_in_order() -> None:
    assert [c.name for c in executions.c] == [f.name for f in fields(Run)]


def test_full_execution_equals_execution() -> None:
    row_t = namedtuple("row_t", [c.name for c in executions.c])  # type: ignore[misc]
    values = {
        "id": 7, "job_id": 3, "environment_id": 1, "job_code": "a", "job_type": "sdk",
        "status": "running", "source": "schedule", "scheduled_for": T0, "attempt": 2,
        "trigger": "schedule", "due_at": T0, "pickup_deadline": None, "run_deadline": T0,
        "timeout_seconds": 60, "pick_up_time": T0, "start_time": T0, "end_time": None,
        "duration": None, "output": "o", "error": None, "exit_code": 3, "metadata": None,
        "created_at": T0, "worker": "w", "target_host": "h", "target_tags": "x,y",
        "payload": {"k": 1},
    }
    r = row_t(**values)
    assert rows.full_execution(r) == rows.execution(r)
    assert rows.full_execution(r).metadata == {}


def test_ordered_job_equals_job() -> None:
    names = [c.name for c in jobs.c]
    base: dict[str, object] = dict.fromkeys(names)
    base.update(
        id=4, environment_id=1, name="a", type="sdk", cron_expression="* * * * *",
        timezone="UTC", anchor_at=T0, catch_up="latest", paused=0, muted=1, blocking=1,
        timeout_seconds=60, max_retries=2, retry_count=1, metadata=None, status="pending",
        created_at=T0, updated_at=T0, next_run_at=T0, consecutive_failures=None,
        alert_after_failures=None, jitter_seconds=5, skip_next=1, crons=["0 * * * *"],
        target={"host": "h"}, channels=["c"], after={"jobs": [1]}, overlap="skip",
        max_concurrency=3, paused_until=T0, last_success_at=T0, ping_uuid="u",
    )
    full = namedtuple("full", names)(**base)  # type: ignore[misc]
    ordered = namedtuple("ordered", [c.name for c in rows.JOB_FIELDS])(  # type: ignore[misc]
        **{c.name: base[c.name] for c in rows.JOB_FIELDS})
    assert [c.name for c in rows.JOB_FIELDS] == [f.name for f in fields(Job)]
    assert rows.ordered_job(ordered) == rows.job(full)
