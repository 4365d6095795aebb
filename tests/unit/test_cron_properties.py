"""Property tests of the cron facade against an oracle written from the spec, and croniter.

The oracle knows nothing of the facade or cronsim: every generated field carries the set of
values it means, and the oracle walks real UTC instants one step (a minute, or a second for
6-field expressions) at a time, reads the local wall time and applies SPEC section 3 from
scratch (see ``oracle_fires``). Start instants cluster around the 2026 DST transitions.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from schedo.server.domain.cron import CronError, parse

TRANSITIONS_2026 = {  # UTC instants of each zone's 2026 offset changes
    "Europe/Berlin": [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)],
    "America/New_York": [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)],
    "Australia/Lord_Howe": [
        datetime(2026, 4, 4, 15, tzinfo=UTC),
        datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    ],
    "America/Havana": [datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 11, 1, 5, tzinfo=UTC)],
    "Asia/Kathmandu": [],
    "UTC": [],
}
ZONES = list(TRANSITIONS_2026)
MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
DAYS = "SUN MON TUE WED THU FRI SAT".split()
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- generated fields


@dataclass(frozen=True)
class Day:
    """What the two day fields mean (days of week: 0 = Sunday .. 6)."""

    dom: frozenset[int]
    dom_last: bool
    dom_last_weekday: bool
    dom_star: bool
    dow: frozenset[int]
    dow_last: frozenset[int]
    dow_nth: frozenset[tuple[int, int]]
    dow_star: bool


@dataclass(frozen=True)
class Expr:
    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    day: Day
    wall_clock: bool  # hour field has neither '*' nor '/'


def _word(draw: st.DrawFn, value: int, names: list[str], base: int) -> str:
    """``value`` as a number, or (when it has one) as its name in a random case."""
    if 0 <= value - base < len(names) and draw(st.booleans()):
        name = names[value - base]
        return draw(st.sampled_from([name, name.lower(), name.capitalize()]))
    return str(value)


@st.composite
def numeric_field(
    draw: st.DrawFn, lo: int, hi: int, names: list[str] | None = None, star_weight: int = 1
) -> tuple[str, frozenset[int]]:
    """A list of 1-3 items: *, */s, v, a-b, a-b/s, v/s (values or names)."""
    items, values = list[str](), set[int]()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["*"] * star_weight + ["*/s", "v", "a-b", "a-b/s", "v/s"]))
        a, b = sorted(draw(st.lists(st.integers(lo, hi), min_size=2, max_size=2)))
        step = draw(st.integers(1, hi - lo + 2))
        word_a, word_b = _word(draw, a, names or [], lo), _word(draw, b, names or [], lo)
        text, chosen = {
            "*": ("*", range(lo, hi + 1)),
            "*/s": (f"*/{step}", range(lo, hi + 1, step)),
            "v": (word_a, range(a, a + 1)),
            "a-b": (f"{word_a}-{word_b}", range(a, b + 1)),
            "a-b/s": (f"{word_a}-{word_b}/{step}", range(a, b + 1, step)),
            "v/s": (f"{word_a}/{step}", range(a, hi + 1, step)),
        }[kind]
        items.append(text)
        values.update(chosen)
    return ",".join(items), frozenset(values)


@st.composite
def day_fields(draw: st.DrawFn) -> tuple[str, str, Day]:
    dom_text, dom = draw(
        st.one_of(
            st.just(("*", frozenset(range(1, 32)))),
            numeric_field(1, 31, star_weight=4),
        )
    )
    dom_last = dom_last_weekday = False
    if draw(st.integers(0, 9)) == 0:  # append L or LW
        special = draw(st.sampled_from(["L", "LW"]))
        dom_text += f",{special}"
        dom_last, dom_last_weekday = special == "L", special == "LW"
    dow_text, dow7 = draw(
        st.one_of(
            st.just(("*", frozenset(range(8)))),
            numeric_field(0, 7, DAYS, star_weight=4),
        )
    )
    dow = frozenset(d % 7 for d in dow7)
    dow_last: frozenset[int] = frozenset()
    dow_nth: frozenset[tuple[int, int]] = frozenset()
    extra = draw(st.integers(0, 9))
    if extra == 0:
        weekday = draw(st.integers(0, 7))
        dow_text += f",{weekday}L"
        dow_last = frozenset({weekday % 7})
    elif extra == 1:
        weekday, nth = draw(st.integers(0, 7)), draw(st.integers(1, 5))
        dow_text += f",{_word(draw, weekday, DAYS, 0)}#{nth}"
        dow_nth = frozenset({(weekday % 7, nth)})
    day = Day(
        dom,
        dom_last,
        dom_last_weekday,
        dom_text.startswith("*"),
        dow,
        dow_last,
        dow_nth,
        dow_text.startswith("*"),
    )
    return dom_text, dow_text, day


@st.composite
def expressions(draw: st.DrawFn, six: bool | None = None, specials: bool = True) -> Expr:
    with_seconds = draw(st.booleans()) if six is None else six
    sec_text, seconds = (
        draw(numeric_field(0, 59, star_weight=2)) if with_seconds else ("", frozenset({0}))
    )
    min_text, minutes = draw(numeric_field(0, 59, star_weight=2))
    hour_text, hours = draw(numeric_field(0, 23, star_weight=3))
    if specials:
        dom_text, dow_text, day = draw(day_fields())
    else:
        dom_text, dom = draw(numeric_field(1, 31, star_weight=4))
        dow_text, dow7 = draw(numeric_field(0, 7, DAYS, star_weight=4))
        day = Day(
            dom,
            False,
            False,
            dom_text.startswith("*"),
            frozenset(d % 7 for d in dow7),
            frozenset(),
            frozenset(),
            dow_text.startswith("*"),
        )
    month_text, months = draw(
        st.one_of(st.just(("*", frozenset(range(1, 13)))), numeric_field(1, 12, MONTHS, 6))
    )
    fields = [min_text, hour_text, dom_text, month_text, dow_text]
    text = " ".join([sec_text, *fields] if with_seconds else fields)
    wall_clock = "*" not in hour_text and "/" not in hour_text
    return Expr(text, seconds, minutes, hours, months, day, wall_clock)


@st.composite
def zone_and_instant(draw: st.DrawFn, horizon: timedelta) -> tuple[str, datetime]:
    """A zone and a start instant; mostly a window of ``horizon`` that crosses (or starts just
    after, e.g. inside a repeated hour) one of the zone's 2026 transitions."""
    zone = draw(st.sampled_from(ZONES))
    micro = timedelta(microseconds=draw(st.sampled_from([0, 0, 1, 500_000, 999_999])))
    if TRANSITIONS_2026[zone] and draw(st.integers(0, 3)) < 3:
        base = draw(st.sampled_from(TRANSITIONS_2026[zone]))
        span = int(horizon.total_seconds())
        if draw(st.integers(0, 3)) < 3:  # the window holds the transition
            offset = -draw(st.integers(1, span))
        else:  # the window starts just after it (e.g. inside a repeated hour)
            offset = draw(st.integers(0, 90 * 60))
        return zone, base + timedelta(seconds=offset) + micro
    lo = datetime(2025, 6, 1, tzinfo=UTC)
    return zone, lo + timedelta(seconds=draw(st.integers(0, 2 * 366 * 86400))) + micro


# --------------------------------------------------------------------------- the oracle


def _last_weekday(year: int, month: int) -> int:
    last = calendar.monthrange(year, month)[1]
    while calendar.weekday(year, month, last) >= 5:  # Saturday, Sunday
        last -= 1
    return last


def day_matches(day: Day, d: date) -> bool:
    """Vixie: a restricted day-of-month OR a restricted day-of-week; AND if either has '*'."""
    month_len = calendar.monthrange(d.year, d.month)[1]
    by_dom = (
        d.day in day.dom
        or (day.dom_last and d.day == month_len)
        or (day.dom_last_weekday and d.day == _last_weekday(d.year, d.month))
    )
    weekday = (d.weekday() + 1) % 7
    by_dow = (
        weekday in day.dow
        or (weekday in day.dow_last and d.day + 7 > month_len)
        or (weekday, (d.day - 1) // 7 + 1) in day.dow_nth
    )
    return by_dom and by_dow if day.dom_star or day.dow_star else by_dom or by_dow


def wall_matches(expr: Expr, wall: datetime) -> bool:
    return (
        wall.second in expr.seconds
        and wall.minute in expr.minutes
        and wall.hour in expr.hours
        and wall.month in expr.months
        and day_matches(expr.day, wall.date())
    )


def oracle_fires(expr: Expr, zone_name: str, after: datetime, horizon: timedelta) -> list[datetime]:
    """Fire instants in (after, after + horizon], walking real instants one step at a time.

    Real-instant schedules fire at every instant whose local wall time matches. Wall-clock
    schedules fire when the wall time matches on its first occurrence (fold 0), and at the
    first instant after a spring-forward gap if any wall time skipped by that gap matches.
    """
    zone = ZoneInfo(zone_name)
    step = timedelta(seconds=1) if len(expr.text.split()) == 6 else timedelta(minutes=1)
    u = datetime.fromtimestamp(
        after.timestamp() // step.total_seconds() * step.total_seconds(), UTC
    )
    u += step
    end, out = after + horizon, list[datetime]()
    previous_offset = (u - timedelta(seconds=1)).astimezone(zone).utcoffset()
    while u <= end:
        local = u.astimezone(zone)
        offset = local.utcoffset()
        assert offset is not None and previous_offset is not None
        wall = local.replace(tzinfo=None)
        if not expr.wall_clock:
            fire = wall_matches(expr, wall)
        else:
            fire = wall_matches(expr, wall) and local.fold == 0
            if not fire and offset > previous_offset:  # u ends a gap: did a skipped time match?
                skipped = wall - (offset - previous_offset)
                while skipped < wall and not fire:
                    fire = wall_matches(expr, skipped)
                    skipped += step
        if fire:
            out.append(u)
        previous_offset = offset
        u += step
    return out


def facade_fires(text: str, zone: str, after: datetime, horizon: timedelta) -> list[datetime]:
    out = list[datetime]()
    for instant in parse(text, zone).iter_after(after):
        if instant > after + horizon:
            break
        out.append(instant)
    return out


def _events(zone: str, after: datetime, horizon: timedelta, fires: list[datetime]) -> None:
    """Statistics for --hypothesis-show-statistics: how often the window crosses a DST change
    and holds fire instants."""
    crosses = any(after < t <= after + horizon for t in TRANSITIONS_2026[zone])
    event(f"window crosses a transition: {crosses}; fires: {bool(fires)}")


def _parse_or_skip(expr: Expr, zone: str) -> None:
    try:
        parse(expr.text, zone)
    except CronError as exc:  # only days that never exist may be refused
        assert "never" in str(exc), (expr.text, str(exc))
        assume(False)


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(expressions(six=False), zone_and_instant(timedelta(days=2)))
def test_five_field_agrees_with_the_oracle(expr: Expr, start: tuple[str, datetime]) -> None:
    (zone, after), horizon = start, timedelta(days=2)
    _parse_or_skip(expr, zone)
    expected = oracle_fires(expr, zone, after, horizon)
    _events(zone, after, horizon, expected)
    assert facade_fires(expr.text, zone, after, horizon) == expected, expr.text


@SETTINGS
@given(expressions(six=True), zone_and_instant(timedelta(hours=2)))
def test_six_field_agrees_with_the_oracle(expr: Expr, start: tuple[str, datetime]) -> None:
    (zone, after), horizon = start, timedelta(hours=2)
    _parse_or_skip(expr, zone)
    expected = oracle_fires(expr, zone, after, horizon)
    _events(zone, after, horizon, expected)
    assert facade_fires(expr.text, zone, after, horizon) == expected, expr.text


@settings(max_examples=300, deadline=None)
@given(expressions(), zone_and_instant(timedelta(days=1)))
def test_next_after_is_strictly_later_and_describable(
    expr: Expr, start: tuple[str, datetime]
) -> None:
    zone, after = start
    _parse_or_skip(expr, zone)
    schedule = parse(expr.text, zone)
    first = schedule.next_after(after)
    assert first > after and first.tzinfo is UTC
    assert schedule.next_after(first) > first
    assert schedule.describe().endswith(f"({zone})")


def _croniter_comparable(expr: Expr) -> bool:
    """True if croniter reads every field as the oracle does. It does not always: it reads
    "0-0" as "*" and "3-3/2" as "*/2", steps a weekday "1/3" over 1-6 (Vixie: 1-7), and
    folds a full range such as 1-31 into "*" and then ANDs the day fields, where Vixie ORs
    them because the text does not start with "*". Those cases are left out."""
    full = [range(60), range(24), range(1, 32), range(1, 13), range(7)]
    wanted = [expr.minutes, expr.hours, expr.day.dom, expr.months, expr.day.dow]
    expanded = croniter(expr.text).expanded
    for values, full_range, want in zip(expanded, full, wanted, strict=True):
        if "*" in values:  # croniter keeps "*" inside a list: "1,*"
            got = set(full_range)
        else:
            got = {int(v) % 7 if full_range == range(7) else int(v) for v in values}
        if got != want:
            return False
    vixie_and = expr.day.dom_star or expr.day.dow_star
    croniter_and = vixie_and or expanded[2][0] == "*" or expanded[4][0] == "*"
    return vixie_and == croniter_and


@settings(max_examples=300, deadline=None)
@given(expressions(six=False, specials=False), zone_and_instant(timedelta(days=1)))
def test_utc_five_field_agrees_with_croniter(expr: Expr, start: tuple[str, datetime]) -> None:
    after = start[1]
    _parse_or_skip(expr, "UTC")
    assume(_croniter_comparable(expr))
    # day_or=True with implement_cron_bug=True is Vixie's rule: OR unless a field starts with *
    other = croniter(expr.text, after, day_or=True, implement_cron_bug=True)
    theirs = [other.get_next(datetime) for _ in range(5)]
    ours = []
    instant = after
    for _ in range(5):
        instant = parse(expr.text).next_after(instant)
        ours.append(instant)
    assert ours == theirs, expr.text


TOKENS = ["*", "/", "-", ",", "L", "W", "#", "0", "1", "5", "7", "12", "24", "31", "60", "MON"]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(TOKENS), min_size=1, max_size=4).map("".join),
        min_size=4,
        max_size=7,
    ).map(" ".join)
)
def test_any_text_parses_or_raises_cron_error(text: str) -> None:
    try:
        schedule = parse(text)
    except CronError as exc:
        assert str(exc).startswith("schedule: ")
        return
    after = datetime(2026, 5, 5, 12, tzinfo=UTC)
    assert schedule.next_after(after) > after
