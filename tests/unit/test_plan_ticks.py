"""``plan_ticks`` (domain/policies.py) against a brute-force oracle written from SPEC 3 and
docs/semantics.md ("Catch-up after downtime")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schedo.server.domain import policies
from schedo.server.domain.model import CatchUp

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=15)


def oracle(ticks: list[datetime], now: datetime, policy: CatchUp) -> dict[str, object]:
    due = [t for t in ticks if t <= now]
    future = [t for t in ticks if t > now]
    on_time = [t for t in due if now - t <= GRACE]
    missed = [t for t in due if now - t > GRACE]
    if policy is CatchUp.ALL:
        chosen = missed[-policies.ALL_MAX_RUNS:]
    elif policy is CatchUp.LATEST and missed and not on_time and \
            now - missed[-1] < policies.LATEST_MAX_AGE:
        chosen = [missed[-1]]
    else:
        chosen = []
    not_run = [t for t in missed if t not in chosen]
    return {
        "run": chosen + on_time,
        "caught_up": chosen,
        "missed": len(not_run),
        "skipped_at": not_run[-1] if not_run else None,
        "next_run_at": future[0] if future else None,
    }


@settings(max_examples=400)
@given(
    step=st.integers(1, 7200),
    count=st.integers(0, 400),
    down=st.integers(0, 3 * 24 * 3600),
    policy=st.sampled_from(list(CatchUp)),
)
def test_plan_ticks_matches_the_oracle(step: int, count: int, down: int,
                                       policy: CatchUp) -> None:
    ticks = [T0 + timedelta(seconds=step * i) for i in range(count)]
    now = T0 + timedelta(seconds=down)
    got = policies.plan_ticks(iter(ticks), now, policy, GRACE)
    want = oracle(ticks, now, policy)
    assert got.run == want["run"]
    assert got.caught_up == want["caught_up"]
    assert got.missed == want["missed"]
    assert got.skipped_at == want["skipped_at"]
    assert got.next_run_at == want["next_run_at"]
    assert got.missed_exact


def test_a_long_outage_stops_counting_exactly_and_resumes_near_now() -> None:
    """A per-second job down for a week: the scan stops after MISSED_SCAN_CAP missed ticks
    and continues from ``resume`` (shortly before now); the count is then a lower bound."""
    now = T0 + timedelta(days=7)

    def every_second(start: datetime):  # type: ignore[no-untyped-def]
        t = start
        while True:
            yield t
            t += timedelta(seconds=1)

    got = policies.plan_ticks(every_second(T0), now, CatchUp.ALL, GRACE,
                              resume=every_second(now - timedelta(hours=2)))
    assert not got.missed_exact
    assert got.missed >= policies.MISSED_SCAN_CAP
    # the 100 most recent missed ticks and the on-time ones run
    assert got.caught_up == [now - GRACE - timedelta(seconds=i)
                             for i in range(policies.ALL_MAX_RUNS, 0, -1)]
    assert got.run[-1] == now and got.next_run_at == now + timedelta(seconds=1)
    assert "at least" in got.skip_message(CatchUp.ALL)
