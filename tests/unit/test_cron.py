"""Unit tests of the cron facade (schedo.server.domain.cron); docs/semantics.md points here.

Every expectation is a concrete UTC instant. The DST tables pin SPEC section 3:
wall-clock schedules (no ``*`` or ``/`` in the hour field) fire once per day, at the first
instant after a spring-forward gap and on the first pass of a repeated hour; schedules with a
wildcard or step in the hour field fire at every real instant whose local time matches.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import islice, pairwise

import pytest

from schedo.server.domain.cron import MAX_EXPRESSION_LENGTH, CronError, CronSchedule, parse


def utc(text: str) -> datetime:
    """'2026-03-29 01:00' or '2026-03-29 01:00:30' -> aware UTC datetime."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def fires(expr: str, start: str, end: str, tz: str = "UTC") -> list[str]:
    """Fire instants in (start, end], as 'YYYY-MM-DD HH:MM[:SS]' UTC strings."""
    schedule, stop, out = parse(expr, tz), utc(end), list[str]()
    for instant in schedule.iter_after(utc(start)):
        if instant > stop:
            break
        text = f"{instant:%Y-%m-%d %H:%M:%S}"
        out.append(text if schedule.has_seconds else text[:-3])
    return out


# --------------------------------------------------------------------------- forms


@pytest.mark.parametrize(
    ("expr", "start", "expected"),
    [
        ("* * * * *", "2026-05-05 10:00:30", ["2026-05-05 10:01", "2026-05-05 10:02"]),
        ("*/20 * * * *", "2026-05-05 10:00", ["2026-05-05 10:20", "2026-05-05 10:40"]),
        ("5,35 */6 * * *", "2026-05-05 10:00", ["2026-05-05 12:05", "2026-05-05 12:35"]),
        ("10-12 9 * * *", "2026-05-05 09:10", ["2026-05-05 09:11", "2026-05-05 09:12"]),
        ("1-30/10 0 * * *", "2026-05-05 00:01", ["2026-05-05 00:11", "2026-05-05 00:21"]),
        ("5/20 1 * * *", "2026-05-05 00:00", ["2026-05-05 01:05", "2026-05-05 01:25"]),
        # a one-value range with a step is that value (cronsim alone would read 5/10)
        ("5-5/10 1 * * *", "2026-05-05 00:00", ["2026-05-05 01:05", "2026-05-06 01:05"]),
        ("0 0 1 * *", "2026-05-05 00:00", ["2026-06-01 00:00", "2026-07-01 00:00"]),
        ("0 12 * 2 *", "2026-05-05 00:00", ["2027-02-01 12:00", "2027-02-02 12:00"]),
        ("0 0 29 2 *", "2026-05-05 00:00", ["2028-02-29 00:00", "2032-02-29 00:00"]),
        # weekdays: Sunday is 0 and 7; 2026-05-10 is a Sunday
        ("0 8 * * 0", "2026-05-05 00:00", ["2026-05-10 08:00", "2026-05-17 08:00"]),
        ("0 8 * * 7", "2026-05-05 00:00", ["2026-05-10 08:00", "2026-05-17 08:00"]),
        ("0 8 * * 5-7", "2026-05-08 09:00", ["2026-05-09 08:00", "2026-05-10 08:00"]),
    ],
)
def test_five_field_forms(expr: str, start: str, expected: list[str]) -> None:
    assert list(map(str, islice(parse(expr).iter_after(utc(start)), 2))) == [
        str(utc(e)) for e in expected
    ]


def test_names_are_case_insensitive_and_equal_to_numbers() -> None:
    start = utc("2026-01-01 00:00")
    by_name = parse("0 9 * jan,Mar-APR mon-FRI").iter_after(start)
    by_number = parse("0 9 * 1,3-4 1-5").iter_after(start)
    assert list(islice(by_name, 60)) == list(islice(by_number, 60))
    assert parse("0 9 * * sat").next_after(start) == utc("2026-01-03 09:00")
    assert parse("0 9 1 dec *").next_after(start) == utc("2026-12-01 09:00")


def test_six_field_form_has_seconds_first() -> None:
    schedule = parse("*/15 * * * * *")
    assert schedule.has_seconds
    start = utc("2026-05-05 10:00:00")
    assert list(islice(schedule.iter_after(start), 3)) == [
        utc("2026-05-05 10:00:15"),
        utc("2026-05-05 10:00:30"),
        utc("2026-05-05 10:00:45"),
    ]
    assert parse("30 0 12 * * *").next_after(start) == utc("2026-05-05 12:00:30")
    assert not parse("0 12 * * *").has_seconds


def test_next_after_is_strictly_after_and_handles_microseconds() -> None:
    schedule = parse("0 * * * *")
    assert schedule.next_after(utc("2026-05-05 10:00")) == utc("2026-05-05 11:00")
    just_before = utc("2026-05-05 10:00") - timedelta(microseconds=1)
    assert schedule.next_after(just_before) == utc("2026-05-05 10:00")
    assert schedule.next_after(utc("2026-05-05 10:00") + timedelta(microseconds=1)) == utc(
        "2026-05-05 11:00"
    )


def test_input_in_any_offset_output_in_utc() -> None:
    after = datetime(2026, 5, 5, 12, 0, tzinfo=timezone(timedelta(hours=5)))  # 07:00Z
    result = parse("30 7 * * *").next_after(after)
    assert result == utc("2026-05-05 07:30")
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@yearly", "2027-01-01 00:00"),
        ("@annually", "2027-01-01 00:00"),
        ("@monthly", "2026-06-01 00:00"),
        ("@weekly", "2026-05-10 00:00"),  # Sunday
        ("@daily", "2026-05-06 00:00"),
        ("@midnight", "2026-05-06 00:00"),
        ("@hourly", "2026-05-05 11:00"),
        ("@DAILY", "2026-05-06 00:00"),
    ],
)
def test_macros(macro: str, expected: str) -> None:
    assert parse(macro).next_after(utc("2026-05-05 10:20")) == utc(expected)


def test_macro_in_a_time_zone() -> None:
    assert parse("@daily", "Europe/Berlin").next_after(utc("2026-05-05 10:20")) == utc(
        "2026-05-05 22:00"
    )


# --------------------------------------------------------------------------- @every


def test_every_counts_from_the_anchor() -> None:
    anchor = utc("2026-01-01 00:00:10") + timedelta(microseconds=500_000)  # µs are dropped
    schedule = parse("@every 90s", anchor=anchor)
    assert schedule.has_seconds
    assert schedule.next_after(anchor) == utc("2026-01-01 00:01:40")
    assert schedule.next_after(utc("2026-01-01 00:01:40")) == utc("2026-01-01 00:03:10")
    assert schedule.next_after(utc("2026-01-01 00:02:00")) == utc("2026-01-01 00:03:10")
    # before the anchor: the first fire is still anchor + 1 interval (k >= 1)
    assert schedule.next_after(utc("2025-06-01 00:00")) == utc("2026-01-01 00:01:40")
    # an hour later: 40 intervals of 90 s
    assert schedule.next_after(utc("2026-01-01 01:00:00")) == utc("2026-01-01 01:00:10")


def test_every_default_anchor_is_the_epoch_and_ignores_the_zone() -> None:
    schedule = parse("@every 1h30m", "Asia/Kathmandu")
    assert not schedule.has_seconds
    # 2026-01-01 00:00Z is 328,704 h after the epoch, a multiple of 1.5 h
    assert schedule.next_after(utc("2026-01-01 00:00")) == utc("2026-01-01 01:30")
    assert parse("@every 5m").next_after(utc("2026-01-01 00:07")) == utc("2026-01-01 00:10")
    assert parse("@every 1d").next_after(utc("2026-01-01 00:07")) == utc("2026-01-02 00:00")
    assert parse("@every 1h0m1s").has_seconds


def test_every_accepts_limits_and_rejects_beyond() -> None:
    assert parse("@every 1s").next_after(utc("2026-01-01 00:00")) == utc("2026-01-01 00:00:01")
    assert parse("@every 7d").next_after(utc("1970-01-01 00:00")) == utc("1970-01-08 00:00")
    assert parse("@every 168h").next_after(utc("1970-01-01 00:00")) == utc("1970-01-08 00:00")


def test_cron_forms_ignore_the_anchor() -> None:
    anchor = utc("2026-01-01 00:00:17")
    assert parse("0 * * * *", anchor=anchor).next_after(anchor) == utc("2026-01-01 01:00")


# --------------------------------------------------------------------------- day rule, L, #


def test_vixie_or_when_both_day_fields_are_restricted() -> None:
    # the 13th OR any Friday; 2026-04-13 is a Monday
    assert fires("0 0 13 * 5", "2026-04-01 00:00", "2026-04-20 00:00") == [
        "2026-04-03 00:00",
        "2026-04-10 00:00",
        "2026-04-13 00:00",
        "2026-04-17 00:00",
    ]


def test_vixie_and_when_a_day_field_starts_with_a_star() -> None:
    # */2 starts with '*': odd days of month AND Fridays
    assert fires("0 0 */2 * 5", "2026-04-01 00:00", "2026-05-20 00:00") == [
        "2026-04-03 00:00",
        "2026-04-17 00:00",
        "2026-05-01 00:00",
        "2026-05-15 00:00",
    ]
    # "*" in day-of-month: Mondays only
    assert fires("0 0 * * 1", "2026-04-01 00:00", "2026-04-14 00:00") == [
        "2026-04-06 00:00",
        "2026-04-13 00:00",
    ]


def test_full_range_without_star_still_means_or() -> None:
    # 1-31 does not start with '*', so either field may match: every day
    days = fires("0 0 1-31 * 1", "2026-04-01 00:00", "2026-04-05 00:00")
    assert days == [f"2026-04-0{d} 00:00" for d in (2, 3, 4, 5)]
    assert parse("0 0 1-31 * 1").describe() == "At 00:00 every day (UTC)"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("0 0 L * *", ["2026-02-28", "2026-03-31", "2026-04-30"]),
        ("0 0 L 2 *", ["2026-02-28", "2027-02-28", "2028-02-29"]),
        ("0 0 LW * *", ["2026-02-27", "2026-03-31", "2026-04-30", "2026-05-29"]),
        ("0 0 * * 5L", ["2026-02-27", "2026-03-27", "2026-04-24"]),
        ("0 0 * * 1#2", ["2026-02-09", "2026-03-09", "2026-04-13"]),
        ("0 0 * * 7#1", ["2026-02-01", "2026-03-01", "2026-04-05"]),
        ("0 0 * * sun#1", ["2026-02-01", "2026-03-01", "2026-04-05"]),
        ("0 0 * * 5#5", ["2026-05-29", "2026-07-31", "2026-10-30"]),
    ],
)
def test_last_and_nth(expr: str, expected: list[str]) -> None:
    got = list(islice(parse(expr).iter_after(utc("2026-01-31 12:00")), len(expected)))
    assert [f"{t:%Y-%m-%d}" for t in got] == expected


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "schedule: must not be empty"),
        ("   ", "schedule: must not be empty"),
        ("* " * 200, f"longer than {MAX_EXPRESSION_LENGTH} characters"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * * *", "got 7"),
        ("hello", "got 1"),
        ("0 24 * * *", "schedule: hour field: 24 is out of range 0-23"),
        ("60 * * * *", "schedule: minute field: 60 is out of range 0-59"),
        ("* * 0 * *", "schedule: day-of-month field: 0 is out of range 1-31"),
        ("* * 32 * *", "schedule: day-of-month field: 32 is out of range 1-31"),
        ("* * * 13 *", "schedule: month field: 13 is out of range 1-12"),
        ("* * * * 8", "schedule: day-of-week field: 8 is out of range 0-7"),
        ("60 * * * * *", "schedule: second field: 60 is out of range 0-59"),
        ("0 0 24 * * *", "schedule: hour field: 24 is out of range 0-23"),
        ("x * * * *", "schedule: minute field: 'X' is not a number"),
        ("* * * FOO *", "schedule: month field: 'FOO' is not a number or a name (JAN-DEC)"),
        ("* * * * MONDAY", "schedule: day-of-week field: 'MONDAY' is not a number or a name"),
        ("* * * JAN-FOO *", "schedule: month field: 'FOO'"),
        ("*/0 * * * *", "schedule: minute field: step in '*/0' must be at least 1"),
        ("*/x * * * *", "schedule: minute field: step 'X'"),
        ("*/5/2 * * * *", "schedule: minute field: step '5/2'"),
        ("5-1 * * * *", "schedule: minute field: range '5-1' runs backwards"),
        ("1-2-3 * * * *", "schedule: minute field: '2-3' is not a number"),
        ("1,,2 * * * *", "schedule: minute field: empty list item in '1,,2'"),
        ("1, * * * *", "schedule: minute field: empty list item"),
        ("* * L * L", "schedule: day-of-week field: 'L'"),
        ("* * * * FRIL", "schedule: day-of-week field: 'FRIL'"),
        ("* * L/2 * *", "schedule: day-of-month field: 'L'"),
        ("* L * * *", "schedule: hour field: 'L' is not a number"),
        ("* * * * 1#6", "schedule: day-of-week field: '1#6': the number after '#' must be 1-5"),
        ("* * * * 1#0", "schedule: day-of-week field: '1#0'"),
        ("* * * * 8#1", "schedule: day-of-week field: 8 is out of range 0-7"),
        ("* * 1#2 * *", "schedule: day-of-month field: '1#2' is not a number"),
        ("0 0 30 2 *", "schedule: day-of-month field: '30' never occurs in month(s) '2'"),
        ("0 0 31 4,6 *", "schedule: day-of-month field: '31' never occurs"),
        ("0 0 */40 * 1#5", "schedule: day-of-month and day-of-week fields"),
        ("0 0 \uff15 * *", "schedule: only printable ASCII"),
        ("0 0 5\n * *", "schedule: only printable ASCII"),
        ("@reboot", "schedule: unknown macro '@reboot'"),
        ("@daily 5", "schedule: unknown macro"),
        ("@every", "schedule: @every: '' is not a duration"),
        ("@every 1.5s", "schedule: @every: '1.5s' is not a duration"),
        ("@every 500ms", "schedule: @every: '500ms' is not a duration"),
        ("@every 1m1h", "schedule: @every: '1m1h' is not a duration"),
        ("@every 0s", "schedule: @every: '0s' is below the minimum of 1s"),
        ("@every 7d1s", "schedule: @every: '7d1s' exceeds the maximum of 7d"),
        ("@every 99999999999999999999d", "exceeds the maximum of 7d"),
    ],
)
def test_invalid_expressions_name_the_field(expr: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        parse(expr)
    assert message in str(info.value)
    assert str(info.value).startswith("schedule: ")


@pytest.mark.parametrize(
    "zone", ["Mars/Base", "", "utc", "Europe/berlin", "../etc/passwd", "/etc/passwd", "Europe"]
)
def test_invalid_time_zones(zone: str) -> None:
    with pytest.raises(CronError, match=r"^timezone: "):
        parse("0 0 * * *", zone)


def test_unknown_zone_message() -> None:
    with pytest.raises(CronError) as info:
        parse("0 0 * * *", "Mars/Base")
    assert str(info.value) == "timezone: unknown time zone 'Mars/Base'"


def test_cron_error_is_a_value_error() -> None:
    assert issubclass(CronError, ValueError)


def test_naive_datetimes_are_rejected() -> None:
    schedule = parse("* * * * *")
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.next_after(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.iter_after(naive)  # eagerly, not at the first next()
    with pytest.raises(ValueError, match="timezone-aware"):
        parse("@every 5m", anchor=naive)


def test_schedules_are_immutable_and_compare_by_value() -> None:
    schedule = parse(" 0 2 * * * ", "Europe/Berlin")
    assert (schedule.expression, schedule.timezone) == ("0 2 * * *", "Europe/Berlin")
    with pytest.raises(AttributeError):
        schedule.expression = "* * * * *"  # type: ignore[misc]
    assert schedule == parse("0 2 * * *", "Europe/Berlin")
    assert schedule != parse("0 2 * * *", "UTC")
    assert isinstance(schedule, CronSchedule)
    assert hash(schedule) == hash(parse("0 2 * * *", "Europe/Berlin"))


def test_end_of_time_is_a_cron_error() -> None:
    with pytest.raises(CronError, match="does not fire after"):
        parse("0 0 1 1 *").next_after(datetime(9999, 12, 31, tzinfo=UTC))


# --------------------------------------------------------------------------- describe


@pytest.mark.parametrize(
    ("expr", "zone", "text"),
    [
        ("0 2 * * *", "Europe/Berlin", "At 02:00 every day (Europe/Berlin)"),
        ("*/15 * * * *", "UTC", "Every 15th minute of every hour (UTC)"),
        ("0 9 * * MON-FRI", "UTC", "At 09:00 on Monday through Friday (UTC)"),
        ("0 0 L * *", "UTC", "At 00:00 on the last day of every month (UTC)"),
        ("@daily", "Asia/Kathmandu", "At 00:00 every day (Asia/Kathmandu)"),
        ("@every 90s", "UTC", "Every 1 minute 30 seconds, counted from 1970-01-01 00:00:00 UTC"),
        ("@every 2h", "UTC", "Every 2 hours, counted from 1970-01-01 00:00:00 UTC"),
    ],
)
def test_describe(expr: str, zone: str, text: str) -> None:
    assert parse(expr, zone).describe() == text


# --------------------------------------------------------------------------- DST tables


@pytest.mark.parametrize(
    ("expr", "tz", "start", "end", "expected"),
    [
        # Europe/Berlin spring forward, 2026-03-29 01:00Z: 02:00 CET -> 03:00 CEST
        (
            "30 2 * * *",
            "Europe/Berlin",
            "2026-03-27 12:00",
            "2026-03-30 12:00",
            ["2026-03-28 01:30", "2026-03-29 01:00", "2026-03-30 00:30"],
        ),
        (
            "0 2 * * *",
            "Europe/Berlin",
            "2026-03-29 00:00",
            "2026-03-29 23:00",
            ["2026-03-29 01:00"],
        ),
        # 02:00 and 03:00 both land on 01:00Z: one run, not two
        (
            "0 2,3 * * *",
            "Europe/Berlin",
            "2026-03-29 00:00",
            "2026-03-29 23:00",
            ["2026-03-29 01:00"],
        ),
        # a fixed hour with a wildcard minute is wall-clock: the whole skipped hour runs once
        (
            "*/15 2 * * *",
            "Europe/Berlin",
            "2026-03-29 00:00",
            "2026-03-29 23:00",
            ["2026-03-29 01:00"],
        ),
        (
            "0 30 2 * * *",
            "Europe/Berlin",
            "2026-03-29 00:00",
            "2026-03-29 23:00",
            ["2026-03-29 01:00:00"],
        ),
        (
            "*/30 * * * *",
            "Europe/Berlin",
            "2026-03-28 23:45",
            "2026-03-29 01:30",
            ["2026-03-29 00:00", "2026-03-29 00:30", "2026-03-29 01:00", "2026-03-29 01:30"],
        ),
        (
            "0 * * * *",
            "Europe/Berlin",
            "2026-03-28 23:30",
            "2026-03-29 02:00",
            ["2026-03-29 00:00", "2026-03-29 01:00", "2026-03-29 02:00"],
        ),
        # 02:xx does not exist on the day: a step in the hour field skips it
        (
            "0 */2 * * *",
            "Europe/Berlin",
            "2026-03-28 22:30",
            "2026-03-29 03:00",
            ["2026-03-28 23:00", "2026-03-29 02:00"],
        ),
        # Europe/Berlin fall back, 2026-10-25 01:00Z: 03:00 CEST -> 02:00 CET
        (
            "30 2 * * *",
            "Europe/Berlin",
            "2026-10-24 00:00",
            "2026-10-26 12:00",
            ["2026-10-24 00:30", "2026-10-25 00:30", "2026-10-26 01:30"],
        ),
        (
            "*/15 2 * * *",
            "Europe/Berlin",
            "2026-10-24 23:00",
            "2026-10-25 23:00",
            ["2026-10-25 00:00", "2026-10-25 00:15", "2026-10-25 00:30", "2026-10-25 00:45"],
        ),
        (
            "0 30 2 * * *",
            "Europe/Berlin",
            "2026-10-24 23:00",
            "2026-10-25 23:00",
            ["2026-10-25 00:30:00"],
        ),
        (
            "*/30 * * * *",
            "Europe/Berlin",
            "2026-10-24 23:45",
            "2026-10-25 02:00",
            [
                "2026-10-25 00:00",
                "2026-10-25 00:30",
                "2026-10-25 01:00",
                "2026-10-25 01:30",
                "2026-10-25 02:00",
            ],
        ),
        (
            "0 * * * *",
            "Europe/Berlin",
            "2026-10-24 22:30",
            "2026-10-25 02:00",
            ["2026-10-24 23:00", "2026-10-25 00:00", "2026-10-25 01:00", "2026-10-25 02:00"],
        ),
        (
            "0 */2 * * *",
            "Europe/Berlin",
            "2026-10-24 21:30",
            "2026-10-25 03:00",
            ["2026-10-24 22:00", "2026-10-25 00:00", "2026-10-25 01:00", "2026-10-25 03:00"],
        ),
        # a step that does not start with '*' is a step too: 02:00 runs in both passes
        (
            "0 0-4/2 * * *",
            "Europe/Berlin",
            "2026-10-24 21:30",
            "2026-10-25 03:00",
            ["2026-10-24 22:00", "2026-10-25 00:00", "2026-10-25 01:00", "2026-10-25 03:00"],
        ),
        # America/New_York spring forward, 2026-03-08 07:00Z: 02:00 EST -> 03:00 EDT
        (
            "30 2 * * *",
            "America/New_York",
            "2026-03-07 00:00",
            "2026-03-09 12:00",
            ["2026-03-07 07:30", "2026-03-08 07:00", "2026-03-09 06:30"],
        ),
        (
            "0 1 * * *",
            "America/New_York",
            "2026-03-07 12:00",
            "2026-03-09 12:00",
            ["2026-03-08 06:00", "2026-03-09 05:00"],
        ),
        (
            "*/30 * * * *",
            "America/New_York",
            "2026-03-08 06:15",
            "2026-03-08 07:30",
            ["2026-03-08 06:30", "2026-03-08 07:00", "2026-03-08 07:30"],
        ),
        # America/New_York fall back, 2026-11-01 06:00Z: 02:00 EDT -> 01:00 EST
        (
            "0 1 * * *",
            "America/New_York",
            "2026-10-31 00:00",
            "2026-11-02 12:00",
            ["2026-10-31 05:00", "2026-11-01 05:00", "2026-11-02 06:00"],
        ),
        (
            "30 1 * * *",
            "America/New_York",
            "2026-11-01 00:00",
            "2026-11-01 23:00",
            ["2026-11-01 05:30"],
        ),
        (
            "30 * * * *",
            "America/New_York",
            "2026-11-01 04:00",
            "2026-11-01 08:00",
            ["2026-11-01 04:30", "2026-11-01 05:30", "2026-11-01 06:30", "2026-11-01 07:30"],
        ),
        (
            "0 * * * *",
            "America/New_York",
            "2026-11-01 04:30",
            "2026-11-01 07:00",
            ["2026-11-01 05:00", "2026-11-01 06:00", "2026-11-01 07:00"],
        ),
        # Australia/Lord_Howe: 30-minute shifts. Spring forward 2026-10-03 15:30Z
        # (02:00 +10:30 -> 02:30 +11); fall back 2026-04-04 15:00Z (02:00 +11 -> 01:30 +10:30)
        (
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2026-10-02 12:00",
            "2026-10-04 23:00",
            ["2026-10-02 15:45", "2026-10-03 15:30", "2026-10-04 15:15"],
        ),
        (
            "0 * * * *",
            "Australia/Lord_Howe",
            "2026-10-03 14:00",
            "2026-10-03 17:00",
            ["2026-10-03 14:30", "2026-10-03 16:00", "2026-10-03 17:00"],
        ),
        (
            "45 1 * * *",
            "Australia/Lord_Howe",
            "2026-04-04 12:00",
            "2026-04-05 12:00",
            ["2026-04-04 14:45"],
        ),
        (
            "0,45 * * * *",
            "Australia/Lord_Howe",
            "2026-04-04 13:50",
            "2026-04-04 15:30",
            ["2026-04-04 14:00", "2026-04-04 14:45", "2026-04-04 15:15", "2026-04-04 15:30"],
        ),
        # Asia/Kathmandu, +05:45 all year
        (
            "0 9 * * *",
            "Asia/Kathmandu",
            "2026-04-04 00:00",
            "2026-04-05 12:00",
            ["2026-04-04 03:15", "2026-04-05 03:15"],
        ),
        (
            "*/30 * * * *",
            "Asia/Kathmandu",
            "2026-04-04 00:00",
            "2026-04-04 01:00",
            ["2026-04-04 00:15", "2026-04-04 00:45"],
        ),
    ],
)
def test_dst_table(expr: str, tz: str, start: str, end: str, expected: list[str]) -> None:
    assert fires(expr, start, end, tz) == expected


@pytest.mark.parametrize(
    ("expr", "tz", "day"),
    [
        ("30 2 * * *", "Europe/Berlin", "2026-03-29"),
        ("30 2 * * *", "Europe/Berlin", "2026-10-25"),
        ("30 2 * * *", "America/New_York", "2026-03-08"),
        ("0 1 * * *", "America/New_York", "2026-11-01"),
        ("30 1 * * *", "America/New_York", "2026-11-01"),
        ("15 2 * * *", "Australia/Lord_Howe", "2026-10-04"),
        ("45 1 * * *", "Australia/Lord_Howe", "2026-04-05"),
    ],
)
def test_fixed_time_fires_exactly_once_on_transition_days(expr: str, tz: str, day: str) -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    local_day = datetime.strptime(day, "%Y-%m-%d").date()
    start = datetime.combine(local_day, datetime.min.time(), zone) - timedelta(days=1)
    local_days = [t.astimezone(zone).date() for t in islice(parse(expr, tz).iter_after(start), 4)]
    assert local_days.count(local_day) == 1


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # from inside the repeated hour: its second pass (06:xxZ) must not fire 01:30 again
        ("2026-11-01 05:45", "2026-11-02 06:30"),
        ("2026-11-01 06:10", "2026-11-02 06:30"),
        ("2026-11-01 06:40", "2026-11-02 06:30"),
        ("2026-11-01 05:10", "2026-11-01 05:30"),
    ],
)
def test_fixed_time_started_inside_the_repeated_hour(start: str, expected: str) -> None:
    assert parse("30 1 * * *", "America/New_York").next_after(utc(start)) == utc(expected)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2026-11-01 05:10", "2026-11-01 05:15"),  # first pass
        ("2026-11-01 05:50", "2026-11-01 06:15"),  # end of first pass -> second pass
        ("2026-11-01 06:05", "2026-11-01 06:15"),  # second pass
        ("2026-11-01 06:50", "2026-11-01 07:15"),  # after
    ],
)
def test_wildcard_hour_started_inside_the_repeated_hour(start: str, expected: str) -> None:
    assert parse("15 * * * *", "America/New_York").next_after(utc(start)) == utc(expected)


def test_midnight_gap() -> None:
    # America/Havana springs forward at 00:00 -> 01:00 (2026-03-08 05:00Z)
    assert fires("0 0 * * *", "2026-03-07 00:00", "2026-03-09 12:00", "America/Havana") == [
        "2026-03-07 05:00",
        "2026-03-08 05:00",
        "2026-03-09 04:00",
    ]
    assert fires("30 * * * *", "2026-03-08 03:00", "2026-03-08 06:00", "America/Havana") == [
        "2026-03-08 03:30",
        "2026-03-08 04:30",
        "2026-03-08 05:30",
    ]


def test_iter_after_is_strictly_increasing_through_transitions() -> None:
    for tz in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe"):
        for expr in ("*/7 * * * *", "30 1,2 * * *", "*/20 1-3 * * *", "*/45 * * * * *"):
            got = list(islice(parse(expr, tz).iter_after(utc("2026-03-01 00:00")), 300))
            assert all(a < b for a, b in pairwise(got))
