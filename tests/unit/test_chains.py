"""domain/chains.py: the shape of ``after``, the graph checks and the firing rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schedo.server.domain import chains
from schedo.server.domain.chains import After, End
from schedo.server.domain.errors import InvalidInput
from schedo.server.domain.model import RunStatus

T0 = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


def end(run_id: int, job: str, status: RunStatus = RunStatus.COMPLETED, at: int = 0,
        attempt: int = 1, max_retries: int = 0) -> End:
    return End(run_id, job, status, T0 + timedelta(seconds=at), attempt, max_retries)


# -- parse_after ------------------------------------------------------------------------------


def test_parse_after_defaults_and_list_shorthand() -> None:
    assert chains.parse_after(None, "load") is None
    a = chains.parse_after({"jobs": ["extract", "transform"]}, "load")
    assert a == After(("extract", "transform"), "success", 3600)
    assert chains.parse_after(["extract"], "load") == After(("extract",))
    full = chains.parse_after({"jobs": ["x1x1"], "on": "completion", "within_seconds": 60}, "y")
    assert full is not None and full.as_json() == {
        "jobs": ["x1x1"], "on": "completion", "within_seconds": 60}
    assert chains.from_json(full.as_json()) == full
    assert chains.from_json(None) is None


@pytest.mark.parametrize(("value", "words"), [
    ("extract", "after: must be an object"),
    (5, "after: must be an object"),
    ({}, "after.jobs: must be a non-empty list"),
    ({"jobs": []}, "after.jobs: must be a non-empty list"),
    ({"jobs": "extract"}, "after.jobs: must be a non-empty list"),
    ({"jobs": [1]}, "after.jobs: every item"),
    ({"jobs": [""]}, "after.jobs: every item"),
    ({"jobs": ["\ud800"]}, "after.jobs: a job name contains a lone UTF-16 surrogate"),
    (["ex\x00tract"], "after.jobs: a job name contains a NUL"),
    ({"jobs": ["aaaa", "aaaa"]}, "after.jobs: 'aaaa' is named twice"),
    ({"jobs": ["load"]}, "after.jobs: a job cannot run after itself"),
    ({"jobs": [f"job{i:02}" for i in range(21)]}, "after.jobs: at most 20"),
    ({"jobs": ["aaaa"], "on": "maybe"}, "after.on: must be one of"),
    ({"jobs": ["aaaa"], "within_seconds": 0}, "after.within_seconds"),
    ({"jobs": ["aaaa"], "within_seconds": True}, "after.within_seconds"),
    ({"jobs": ["aaaa"], "within_seconds": "60"}, "after.within_seconds"),
    ({"jobs": ["aaaa"], "within_seconds": 31 * 86400}, "after.within_seconds"),
    ({"jobs": ["aaaa"], "when": 1}, "after: unknown field 'when'"),
])
def test_parse_after_refuses(value: object, words: str) -> None:
    with pytest.raises(InvalidInput, match="^" + words.replace("(", r"\(")):
        chains.parse_after(value, "load")


# -- check_graph ------------------------------------------------------------------------------


def test_check_graph_unknown_upstream() -> None:
    with pytest.raises(InvalidInput, match=r"after\.jobs: no job named 'nope'"):
        chains.check_graph("load", After(("nope",)), {"load", "extract"}, {})


def test_check_graph_names_the_loop() -> None:
    graph = {"bbbb": ["aaaa"]}  # b runs after a; a after b closes the loop
    with pytest.raises(InvalidInput, match="aaaa -> bbbb -> aaaa"):
        chains.check_graph("aaaa", After(("bbbb",)), {"aaaa", "bbbb"}, graph)
    long = {"bbbb": ["cccc"], "cccc": ["dddd"], "dddd": ["aaaa"]}
    with pytest.raises(InvalidInput, match="aaaa -> bbbb -> cccc -> dddd -> aaaa"):
        chains.check_graph("aaaa", After(("bbbb",)), {"aaaa", "bbbb", "cccc", "dddd"}, long)


def test_check_graph_accepts_a_diamond_and_a_redefinition() -> None:
    graph = {"bbbb": ["aaaa"], "cccc": ["aaaa"]}
    chains.check_graph("dddd", After(("bbbb", "cccc")), {"aaaa", "bbbb", "cccc"}, graph)
    # redefining a job replaces its own edges: the old ones cannot make a loop
    chains.check_graph("bbbb", After(("cccc",)), {"aaaa", "bbbb", "cccc"},
                       {"bbbb": ["aaaa"], "cccc": ["aaaa"]})
    chains.check_graph("bbbb", None, set(), {"aaaa": ["bbbb"]})


def test_find_cycle_without_one() -> None:
    assert chains.find_cycle("aaaa", {"aaaa": ["bbbb"], "bbbb": ["cccc"]}) is None


# -- counting ends ----------------------------------------------------------------------------


def test_is_final_and_qualifies() -> None:
    assert chains.is_final(end(1, "a", RunStatus.COMPLETED))
    assert chains.is_final(end(1, "a", RunStatus.FAILED, attempt=1, max_retries=0))
    assert not chains.is_final(end(1, "a", RunStatus.FAILED, attempt=1, max_retries=2))
    assert chains.is_final(end(1, "a", RunStatus.EXPIRED, attempt=3, max_retries=2))
    for st in (RunStatus.SKIPPED, RunStatus.CANCELLED, RunStatus.PENDING, RunStatus.RUNNING):
        assert not chains.is_final(end(1, "a", st))
        for on in chains.ON_VALUES:
            assert not chains.qualifies(st, on)
    assert chains.qualifies(RunStatus.COMPLETED, "success")
    assert not chains.qualifies(RunStatus.COMPLETED, "failure")
    assert chains.qualifies(RunStatus.EXPIRED, "failure")
    assert chains.qualifies(RunStatus.FAILED, "completion")
    assert not chains.qualifies(RunStatus.FAILED, "success")


# -- choose -----------------------------------------------------------------------------------

FAN_IN = After(("extract", "transform"), "success", 600)


def test_single_upstream_fires_on_its_end() -> None:
    t = end(7, "extract")
    assert chains.choose(After(("extract",)), t, {}, {}) == [t]
    assert chains.fired_at([t]) == t.end_time


def test_a_failed_end_with_a_retry_pending_does_not_fire() -> None:
    t = end(7, "extract", RunStatus.FAILED, max_retries=1)
    assert chains.choose(After(("extract",), "failure"), t, {}, {}) is None
    last = end(8, "extract", RunStatus.FAILED, attempt=2, max_retries=1)
    assert chains.choose(After(("extract",), "failure"), last, {}, {}) == [last]


def test_wrong_outcome_or_foreign_trigger_does_not_fire() -> None:
    assert chains.choose(After(("extract",)), end(1, "extract", RunStatus.FAILED), {}, {}) is None
    assert chains.choose(After(("extract",)), end(1, "other"), {}, {}) is None


def test_fan_in_waits_for_every_upstream() -> None:
    t = end(2, "transform", at=100)
    assert chains.choose(FAN_IN, t, {"extract": []}, {}) is None
    e1 = end(1, "extract", at=10)
    assert chains.choose(FAN_IN, t, {"extract": [e1]}, {}) == [t, e1]


def test_fan_in_picks_the_newest_unconsumed_end_within_the_window() -> None:
    t = end(9, "transform", at=1000)
    old = end(1, "extract", at=100)  # 900 s before: outside the 600 s window
    mid = end(2, "extract", at=500)
    new = end(3, "extract", at=800)
    assert chains.choose(FAN_IN, t, {"extract": [old]}, {}) is None
    assert chains.choose(FAN_IN, t, {"extract": [old, mid, new]}, {}) == [t, new]
    # an end no newer than the last consumed one is passed over
    assert chains.choose(FAN_IN, t, {"extract": [mid]}, {"extract": new.end_time}) is None


def test_fan_in_on_failure_and_completion() -> None:
    t = end(2, "transform", RunStatus.FAILED, at=10)
    up = end(1, "extract", RunStatus.EXPIRED, at=5)
    ok = end(3, "extract", RunStatus.COMPLETED, at=6)
    on_fail = After(("extract", "transform"), "failure", 60)
    assert chains.choose(on_fail, t, {"extract": [up, ok]}, {}) == [t, up]
    on_any = After(("extract", "transform"), "completion", 60)
    assert chains.choose(on_any, t, {"extract": [up, ok]}, {}) == [t, ok]
    assert chains.choose(FAN_IN, t, {"extract": [ok]}, {}) is None


def test_chosen_ends_must_all_fit_in_one_window() -> None:
    a = After(("aaaa", "bbbb", "cccc"), "success", 100)
    t = end(1, "aaaa", at=100)
    early = end(2, "bbbb", at=0)  # 100 s before the trigger
    late = end(3, "cccc", at=200)  # 100 s after it (a reported end time): 200 s apart
    assert chains.choose(a, t, {"bbbb": [early], "cccc": [late]}, {}) is None
    assert chains.choose(a, t, {"bbbb": [early], "cccc": [end(4, "cccc", at=90)]}, {})


def test_never_has_no_fire_instant() -> None:
    from schedo.server.domain import cron
    from schedo.server.domain.schedules import next_or_none

    s = cron.parse("@never", "Europe/Berlin")
    assert next_or_none(s, T0) is None
    assert "Never" in s.describe()
    with pytest.raises(cron.CronError, match="unknown macro"):
        cron.parse("@never 5")
