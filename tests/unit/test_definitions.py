"""domain/definitions.py: which redefinitions change nothing (and so write nothing), and the
strict sameness the audit log's diff shares with it."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from schedo.server.domain.audit import diff
from schedo.server.domain.definitions import redefines_nothing, same
from schedo.server.domain.model import CatchUp, JobStatus, JobType
from schedo.server.domain.records import Job, JobSpec

T = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = JobSpec(name="nightly", type=JobType.SDK, cron_expression="0 2 * * *", timezone="UTC",
               catch_up=CatchUp.LATEST, blocking=False, timeout_seconds=60, max_retries=0,
               metadata={"team": "ops", "n": 1}, webhook_url=None, command=None,
               crons=("5 4 * * *",), channels=["ops"], target=None, after=None)
JOB = Job(id=1, environment_id=1, name="nightly", type=JobType.SDK, cron_expression="0 2 * * *",
          timezone="UTC", anchor_at=T, catch_up=CatchUp.LATEST, paused=True, muted=True,
          blocking=False, timeout_seconds=60, max_retries=0, retry_count=3,
          metadata={"team": "ops", "n": 1}, webhook_url=None, command=None,
          status=JobStatus.FAILED, last_run_at=T, next_run_at=T, created_at=T, updated_at=T,
          crons=("5 4 * * *",), channels=["ops"])


def test_the_stored_definition_asked_again_changes_nothing() -> None:
    # state that runs and controls change (paused, status, retry_count) is no definition
    assert redefines_nothing(JOB, SPEC)
    assert redefines_nothing(JOB, replace(SPEC, metadata={"team": "ops", "n": 1}))


@pytest.mark.parametrize("change", [
    {"metadata": {"team": "ops", "n": True}},  # == in Python, another JSON type
    {"metadata": {"team": "ops", "n": 1.0}},
    {"metadata": {"n": 1, "team": "ops"}},  # a new key order is a change (docs/api.md)
    {"cron_expression": "0 3 * * *"},
    {"crons": ()},
    {"crons": ("5 4 * * *", "0 1 * * *")},
    {"timezone": "Europe/Berlin"},
    {"catch_up": CatchUp.ALL},
    {"timeout_seconds": 61},
    {"channels": None},
    {"jitter_seconds": 5},
    {"overlap": "buffer_one"},
    {"after": {"jobs": ["extract"]}},
])
def test_any_field_of_another_value_or_type_is_a_change(change: dict[str, Any]) -> None:
    assert not redefines_nothing(JOB, replace(SPEC, **change))


def test_every_field_of_a_definition_is_compared_but_its_name_and_ping_secret() -> None:
    """A field added to JobSpec is compared without anyone remembering to: each one set to a
    value the stored job does not hold makes the redefinition a change."""
    for f in fields(JobSpec):
        if f.name in ("name", "ping_uuid"):
            continue
        other: Any = {"type": JobType.PUSH, "catch_up": CatchUp.ALL, "blocking": True,
                      "crons": ("1 1 * * *",)}.get(f.name, "x")
        assert not redefines_nothing(JOB, replace(SPEC, **{f.name: other})), f.name


def test_a_ping_secret_is_stored_once() -> None:
    beat = replace(SPEC, type=JobType.HEARTBEAT, ping_uuid="new")
    assert not redefines_nothing(replace(JOB, type=JobType.HEARTBEAT), beat)  # none stored yet
    assert redefines_nothing(replace(JOB, type=JobType.HEARTBEAT, ping_uuid="kept"), beat)


def test_same_is_strict_about_types_and_json_text() -> None:
    assert same({"a": [1, 2]}, {"a": [1, 2]}) and same(("x",), ("x",)) and same(None, None)
    assert not same(1, True) and not same(1, 1.0) and not same([1], (1,))
    assert not same({"a": 1, "b": 2}, {"b": 2, "a": 1})


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True),
                    st.sampled_from([0.0, -0.0, 1.0]), st.sampled_from(["a", "b", "1"]))
_JSONISH = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.lists(inner, max_size=3).map(tuple),
                            st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)),
    max_leaves=8)


@given(_JSONISH, _JSONISH)
@example([0.0], [-0.0])
@example({"a": float("nan")}, {"a": float("nan")})
@example([1, (2,)], [1, [2]])
@example({"a": 1}, {"a": 1.0})
def test_same_answers_as_the_json_text_of_values_of_one_type(a: Any, b: Any) -> None:
    """The rule's first form compared lists, tuples and dicts of the same type by their JSON
    text, and anything else with ``==``; walking them must answer the same for every JSON
    value (lists and tuples inside alike)."""
    if isinstance(a, (dict, list, tuple)):
        assert same(a, b) == (type(a) is type(b) and json.dumps(a) == json.dumps(b))
    else:
        assert same(a, b) == (type(a) is type(b) and a == b)
    assert same(a, a) or a != a  # NaN alone is not == itself


@given(_JSONISH)
def test_a_copy_through_json_is_the_same(a: Any) -> None:
    copied = json.loads(json.dumps(a))
    if type(copied) is type(a):
        assert same(a, copied) == (json.dumps(a) == json.dumps(copied))


def test_the_audit_diff_records_a_change_of_json_type() -> None:
    """A write that turns metadata's 1 into true records it (it compared with == before, so
    the job changed and the audit log said nothing)."""
    assert diff({"metadata": {"a": 1}}, {"metadata": {"a": True}}) == {
        "metadata": [{"a": 1}, {"a": True}]}
    assert diff({"metadata": {"a": 1}}, {"metadata": {"a": 1}}) == {}
