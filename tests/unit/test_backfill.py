"""Backfill's fire list (domain/backfill.py over domain/schedules.py) against a brute-force
walk: for random 5-field expressions (with H items) and extra ``crons``, in UTC, the instants
of a random range are exactly the minutes of the range some expression matches, each once,
in order; more than the cap is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedo.server.domain import hashed
from schedo.server.domain.backfill import fire_instants
from schedo.server.domain.errors import InvalidInput
from schedo.server.domain.schedules import fires, schedule_of

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def field(lo: int, hi: int) -> st.SearchStrategy[str]:
    value = st.integers(lo, hi).map(str)
    step = st.integers(1, 25).map(lambda n: f"*/{n}")
    rng = st.tuples(st.integers(lo, hi), st.integers(lo, hi)).map(
        lambda p: f"{min(p)}-{max(p)}")
    return st.one_of(st.just("*"), value, step, rng, st.just("H"), step.map(lambda s: "H" + s[1:]))


expressions = st.tuples(field(0, 59), field(0, 23)).map(lambda p: f"{p[0]} {p[1]} * * *")


def expand(text: str, lo: int, hi: int) -> set[int]:
    base, _, step = text.partition("/")
    if base == "*":
        a, b = lo, hi
    else:
        a_s, _, b_s = base.partition("-")
        a, b = int(a_s), int(b_s or (hi if step else a_s))
    return set(range(a, b + 1, int(step or 1)))


def matches(expr: str, seed: str, t: datetime) -> bool:
    minute, hour = hashed.resolve(expr, seed).split()[:2]
    return t.minute in expand(minute, 0, 59) and t.hour in expand(hour, 0, 23)


@given(expressions, st.lists(expressions, max_size=2), st.integers(0, 1400),
       st.integers(0, 1440), st.text(min_size=1, max_size=10))
@settings(max_examples=60, deadline=None)
def test_backfill_instants_equal_the_brute_force_fire_list(
    expr: str, crons: list[str], start_min: int, length: int, name: str
) -> None:
    seed = hashed.seed_of(1, name)
    start = T0 + timedelta(minutes=start_min)
    end = start + timedelta(minutes=length)
    oracle = [start + timedelta(minutes=m) for m in range(length + 1)
              if any(matches(e, seed, start + timedelta(minutes=m)) for e in [expr, *crons])]
    sched = schedule_of(expr, crons, "UTC", T0, seed)
    try:
        got = fire_instants(fires(sched, start - timedelta(milliseconds=1)), end, cap=1000)
    except InvalidInput:
        assert len(oracle) > 1000
        return
    assert got == oracle


def test_more_than_the_cap_is_refused_and_exactly_the_cap_is_not() -> None:
    sched = schedule_of("* * * * *", (), "UTC", T0, None)
    end = T0 + timedelta(minutes=999)
    assert len(fire_instants(fires(sched, T0 - timedelta(seconds=1)), end)) == 1000
    with pytest.raises(InvalidInput, match="more than 1000 fire instants"):
        fire_instants(fires(sched, T0 - timedelta(seconds=1)), end + timedelta(minutes=1))


def test_at_ends_and_its_fire_list_has_one_instant() -> None:
    sched = schedule_of("@at 2026-03-01T06:00:00+01:00", (), "UTC", T0, None)
    assert list(fires(sched, T0 - timedelta(days=1))) == [T0 + timedelta(hours=5)]
