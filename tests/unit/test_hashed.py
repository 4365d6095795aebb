"""``H`` fields and jitter (domain/hashed.py) against a brute-force oracle.

The oracle expands the *resolved* field text by itself (no cronsim) and checks it is exactly
what the H item allows: one value of the range for ``H``/``H(a-b)``; for ``H/n`` and
``H(a-b)/n`` every n-th value of the range from an offset below n. Stability: the same seed
gives the same text on every call and in another process with another ``PYTHONHASHSEED``
(what "the same on every node" needs). Spreading: 10,000 names over the 60 minutes pass a
chi-square test (deterministic: SHA-256, fixed names).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedo.server.domain import cron, hashed
from schedo.server.domain.cron_fields import CronError

FIELDS = {  # name: (index in the 5-field form, H range lo, hi, explicit bounds lo, hi)
    "minute": (0, 0, 59, 0, 59),
    "hour": (1, 0, 23, 0, 23),
    "day-of-month": (2, 1, 28, 1, 31),
    "month": (3, 1, 12, 1, 12),
    "day-of-week": (4, 0, 6, 0, 7),
}


def expand(text: str) -> set[int]:
    """Values a resolved field item list names ("7", "3-29/10")."""
    out: set[int] = set()
    for item in text.split(","):
        base, _, step = item.partition("/")
        lo, _, hi = base.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1, int(step or 1)))
    return out


@st.composite
def h_items(draw: st.DrawFn) -> tuple[str, str, int, int, int | None]:
    """(field, item, lo, hi, step) of a well-formed H item."""
    field = draw(st.sampled_from(sorted(FIELDS)))
    _, hlo, hhi, blo, bhi = FIELDS[field]
    lo, hi = hlo, hhi
    explicit = draw(st.booleans())
    if explicit:
        lo = draw(st.integers(blo, bhi))
        hi = draw(st.integers(lo, bhi))
    step = draw(st.none() | st.integers(1, 40))
    item = "H" + (f"({lo}-{hi})" if explicit else "") + (f"/{step}" if step else "")
    return field, item, lo, hi, step


@given(h_items(), st.text(min_size=1, max_size=30))
@settings(max_examples=400, deadline=None)
def test_every_resolved_value_is_in_range_and_follows_the_step(
    spec: tuple[str, str, int, int, int | None], seed: str
) -> None:
    field, item, lo, hi, step = spec
    parts = ["0", "0", "1", "1", "*"]
    parts[FIELDS[field][0]] = item
    resolved = hashed.resolve(" ".join(parts), seed).split()
    values = expand(resolved[FIELDS[field][0]])
    # brute force: the values the item allows, for the offset the resolution chose
    start = min(values)
    assert lo <= start <= hi
    if step is None:
        assert values == {start}
    else:
        assert start < lo + step  # the offset is below the step
        assert values == {v for v in range(lo, hi + 1) if (v - start) % step == 0}
    # the other fields are untouched, and it is stable
    assert [p for i, p in enumerate(resolved) if i != FIELDS[field][0]] == [
        p for i, p in enumerate(parts) if i != FIELDS[field][0]]
    assert hashed.resolve(" ".join(parts), seed) == " ".join(resolved)


@given(st.integers(0, 59), st.integers(1, 30), st.text(min_size=1, max_size=20))
@settings(max_examples=50, deadline=None)
def test_resolved_schedule_fires_exactly_at_the_oracle_minutes(
    lo: int, step: int, name: str
) -> None:
    """A whole schedule: walk one day minute by minute and compare with the fire list."""
    expr = f"H({lo}-59)/{step} H * * *"
    seed = hashed.seed_of(1, name)
    resolved = hashed.resolve(expr, seed)
    minutes, hours = (expand(f) for f in resolved.split()[:2])
    sched = cron.parse(resolved, "UTC")
    day = datetime(2026, 3, 1, tzinfo=UTC)
    oracle = [day + timedelta(minutes=m) for m in range(1440)
              if m % 60 in minutes and m // 60 in hours]
    got = []
    for t in sched.iter_after(day - timedelta(seconds=1)):
        if t >= day + timedelta(days=1):
            break
        got.append(t)
    assert got == oracle and len(hours) == 1


def test_seconds_field_and_lists_and_lower_case() -> None:
    r = hashed.resolve("H/15 H * * * *", "1:seconds-job").split()
    assert len(r) == 6
    secs = expand(r[0])
    assert len(secs) == 4 and min(secs) < 15
    assert 0 <= int(r[1]) <= 59
    # the minute of a 6-field expression hashes like the minute of a 5-field one
    assert r[1] == hashed.resolve("H * * * *", "1:seconds-job").split()[0]
    listed = hashed.resolve("H(0-9),30,h(40-49) * * * *", "1:x").split()[0].split(",")
    assert 0 <= int(listed[0]) <= 9 and listed[1] == "30" and 40 <= int(listed[2]) <= 49


def test_expressions_without_h_are_unchanged() -> None:
    for expr in ("0 * * * *", "@hourly", "@every 90s", "0 0 * * THU", " 5 4 * * * "):
        assert hashed.resolve(expr, "1:a") == expr
        assert not hashed.uses_hash(expr)
    assert hashed.uses_hash("H * * * *") and hashed.uses_hash("0 H(0-5) * * *")


@pytest.mark.parametrize(("expr", "message"), [
    ("H(50-70) * * * *", "minute field: 70 in 'H(50-70)' is out of range 0-59"),
    ("0 H(5-2) * * *", "hour field: range in 'H(5-2)' runs backwards"),
    ("H/0 * * * *", "minute field: step in 'H/0' must be at least 1"),
    ("Hx * * * *", "minute field: 'Hx' is not H, H/n, H(a-b) or H(a-b)/n"),
    ("0 0 H(0-5) * *", "day-of-month field: 0 in 'H(0-5)' is out of range 1-31"),
])
def test_malformed_h_items_name_the_field(expr: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        hashed.resolve(expr, "1:job")
    assert str(info.value) == f"schedule: {message}"


def test_h_spreads_10000_names_evenly_over_the_hour() -> None:
    counts = Counter(int(hashed.resolve("H * * * *", hashed.seed_of(1, f"job-{i}")).split()[0])
                     for i in range(10_000))
    assert set(counts) == set(range(60))
    expected = 10_000 / 60
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 98.3  # 59 degrees of freedom, p = 0.001
    # against "0 * * * *": every job at :00; with H no minute holds more than 1.3x its share
    assert max(counts.values()) < 1.3 * expected


def test_the_same_job_resolves_the_same_in_another_process() -> None:
    names = [f"job-{i}" for i in range(50)]
    here = {n: hashed.resolve("H H(0-5) H * H/2", hashed.seed_of(7, n)) for n in names}
    code = ("import json,sys;from schedo.server.domain import hashed;"
            "print(json.dumps({n: hashed.resolve('H H(0-5) H * H/2', hashed.seed_of(7, n))"
            " for n in json.loads(sys.argv[1])}))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(names)], check=True,
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout
    assert json.loads(out) == here
    # environment and name both count
    assert hashed.seed_of(1, "a-job") != hashed.seed_of(2, "a-job")


@given(st.text(min_size=1, max_size=20), st.integers(0, 3600),
       st.integers(0, 4_000_000_000_000))
@settings(max_examples=300, deadline=None)
def test_jitter_is_within_bounds_and_stable_per_tick(seed: str, jitter: int, ms: int) -> None:
    instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    off = hashed.jitter_offset(seed, instant, jitter)
    assert off == hashed.jitter_offset(seed, instant, jitter)
    assert off.microseconds % 1000 == 0
    if jitter == 0:
        assert off == timedelta(0)
    else:
        assert timedelta(0) <= off < timedelta(seconds=jitter)


def test_jitter_varies_between_ticks_and_covers_the_window() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    offs = [hashed.jitter_offset("1:nightly", start + timedelta(hours=h), 600).total_seconds()
            for h in range(2000)]
    buckets = Counter(int(o // 60) for o in offs)  # ten one-minute buckets
    assert set(buckets) == set(range(10))
    assert max(buckets.values()) < 1.3 * 200 and min(buckets.values()) > 0.7 * 200
