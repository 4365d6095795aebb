"""domain/audit.py: the before/after of a changed definition (issue 22)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schedo.server.domain.audit import SECRET, diff, job_changes, job_fields
from schedo.server.domain.model import CatchUp, JobStatus, JobType
from schedo.server.domain.records import Job

T = datetime(2026, 1, 1, tzinfo=UTC)
JOB = Job(id=1, environment_id=1, name="nightly", type=JobType.SDK, cron_expression="0 2 * * *",
          timezone="UTC", anchor_at=T, catch_up=CatchUp.LATEST, paused=False, muted=False,
          blocking=False, timeout_seconds=60, max_retries=0, retry_count=0,
          metadata={"team": "ops"}, webhook_url=None, command=None, status=JobStatus.PENDING,
          last_run_at=None, next_run_at=T, created_at=T, updated_at=T)


def test_only_fields_that_really_changed() -> None:
    after = replace(JOB, cron_expression="0 3 * * *", metadata={"team": "ops"},
                    updated_at=datetime(2026, 2, 1, tzinfo=UTC), status=JobStatus.FAILED,
                    next_run_at=None, retry_count=2)
    assert job_changes(JOB, after) == {"cron_expression": ["0 2 * * *", "0 3 * * *"]}
    assert job_changes(JOB, replace(JOB)) == {}


def test_values_are_plain_json() -> None:
    until = datetime(2026, 3, 1, 12, tzinfo=UTC)
    after = replace(JOB, type=JobType.PUSH, catch_up=CatchUp.ALL, paused_until=until,
                    crons=("5 4 * * *",))
    assert job_changes(JOB, after) == {
        "type": ["sdk", "push"], "catch_up": ["latest", "all"],
        "paused_until": [None, "2026-03-01T12:00:00Z"], "crons": [[], ["5 4 * * *"]],
    }


def test_empty_lists_and_none_are_the_same_nothing() -> None:
    assert diff({"crons": []}, {"crons": None}) == {}
    assert diff({"channels": None}, {}) == {}


def test_secrets_are_never_shown() -> None:
    assert diff({"secret": "old", "name": "a"}, {"secret": "new", "name": "a"}) == {
        "secret": [SECRET, SECRET]}
    assert diff({"key": "same"}, {"key": "same"}) == {}
    assert diff({"url": "https://hooks.slack.com/x"}, {"url": "https://hooks.slack.com/y"},
                secret=frozenset({"url"})) == {"url": [SECRET, SECRET]}


def test_a_new_job_lists_what_it_was_made_with() -> None:
    made = job_changes(None, JOB)
    assert made["cron_expression"] == [None, "0 2 * * *"]
    assert "webhook_url" not in made  # None before, None after
    assert set(made) <= set(job_fields(JOB))


_VALUES: dict[str, list[Any]] = {
    "type": [JobType.SDK, JobType.PUSH], "cron_expression": ["0 2 * * *", "0 3 * * *"],
    "crons": [(), ("5 4 * * *",), None], "catch_up": [CatchUp.LATEST, CatchUp.ALL],
    "metadata": [{"team": "ops"}, {"team": "ops", "n": 1}, {"n": True, "team": "ops"}, None],
    "channels": [None, [], ["ops"]], "timeout_seconds": [60, 61, None],
    "paused_until": [None, T, datetime(2026, 3, 1, tzinfo=UTC)], "paused": [False, True],
    "target": [None, {"url": "http://a"}, {"url": "http://b", "headers": {"x": "1"}}],
}


@given(st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in _VALUES.items()}),
       st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in _VALUES.items()}))
def test_job_changes_is_the_diff_of_the_two_definitions(a: dict[str, Any],
                                                        b: dict[str, Any]) -> None:
    """``job_changes`` skips the fields that are the same before making them plain; it must
    answer what ``diff`` of both jobs' ``job_fields`` answers, order of keys included."""
    before, after = replace(JOB, **a), replace(JOB, **b)
    got = job_changes(before, after)
    want = diff(job_fields(before), job_fields(after))
    assert got == want and list(got) == list(want)
