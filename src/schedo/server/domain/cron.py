"""Cron schedules: parsing, validation, fire instants and the daylight-saving rule.

A pure module (no I/O) and the only place that knows cron syntax. ``parse`` turns a
schedule string and an IANA time zone into an immutable :class:`CronSchedule`, or raises
:class:`CronError` whose message names the offending field. Supported forms, read in the
schedule's time zone (docs/semantics.md has the full text and worked examples):

* 5 fields ``minute hour day-of-month month day-of-week`` and 6 fields with *seconds first*;
  ``*``, lists, ranges, steps (``*/15``, ``1-30/5``, ``5/15`` = 5-59/15), month and weekday
  names (case-insensitive), Sunday = 0 or 7, ``L``/``LW`` in day-of-month, ``5L`` (last
  Friday) and ``1#2`` (second Monday) in day-of-week.
* Vixie day rule: if either day field starts with ``*`` both must match, else either does.
* ``@yearly @annually @monthly @weekly @daily @midnight @hourly``.
* ``@every <duration>`` (``90s``, ``5m``, ``1h30m``, ``1d``; 1 s to 7 d): fires at
  ``anchor + k * interval`` for k >= 1, independent of the time zone.

Daylight saving (SPEC section 3). A schedule whose hour field has no ``*`` and no ``/`` is
*wall-clock*: a matching local time inside a spring-forward gap fires once, at the first
instant after the gap; a matching local time that occurs twice fires on its first
occurrence only. Any other schedule is *real-instant*: it fires at every real instant whose
local time matches, so it skips the gap and fires in both passes of a repeated hour.

cronsim (Debian/Vixie semantics) parses the fields and decides which days match; the
time-of-day search and the DST handling are ours. Why: cronsim's own DST mode classifies
by minute *and* hour, ignores 6-field expressions, and returns an instant *before* its start
when started in the second pass of a repeated hour; its iterator costs 10-70 us per call,
the search below 2-8 us. We also validate first (cronsim's errors do not say what is wrong)
and rewrite ``5-5/10`` to ``5`` (cronsim would read it as ``5/10``).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

__all__ = ["MAX_EXPRESSION_LENGTH", "CronError", "CronSchedule", "parse"]

MAX_EXPRESSION_LENGTH = 256
MIN_EVERY = timedelta(seconds=1)
MAX_EVERY = timedelta(days=7)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_ONE_SECOND = timedelta(seconds=1)
_LAST_START = datetime(9999, 12, 1, tzinfo=UTC)  # keeps the arithmetic inside datetime's range
# Any day pattern cronsim accepts recurs within 40 years (Feb 29 on a given weekday has the
# longest gap, across 2100); a search that finds nothing in 50 years means "never".
_SCAN_DAYS = 50 * 366
_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})
_TZ_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
_EVERY = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronError(ValueError):
    """An invalid schedule or time zone; ``str(e)`` names the field and the bad value."""


class _NoFire(Exception):
    """Internal: no matching time within the search window."""


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Field:
    name: str
    lo: int
    hi: int
    names: tuple[str, ...] = ()  # symbolic names for lo, lo+1, ... (month, weekday)


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DOM = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, tuple("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()))
_DOW = _Field("day-of-week", 0, 7, tuple("SUN MON TUE WED THU FRI SAT".split()))
_FIVE = (_MINUTE, _HOUR, _DOM, _MONTH, _DOW)


def _field_error(spec: _Field, detail: str) -> CronError:
    return CronError(f"schedule: {spec.name} field: {detail}")


def _is_uint(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _value(spec: _Field, token: str) -> int:
    """One number or name of a field, range-checked."""
    if token in spec.names:
        return spec.lo + spec.names.index(token)
    if not _is_uint(token):
        kind = f" or a name ({spec.names[0]}-{spec.names[-1]})" if spec.names else ""
        raise _field_error(spec, f"{token!r} is not a number{kind}")
    value = int(token)
    if not spec.lo <= value <= spec.hi:
        raise _field_error(spec, f"{value} is out of range {spec.lo}-{spec.hi}")
    return value


def _check_item(spec: _Field, item: str) -> str:
    """Validate one list item (already upper-case) with the grammar cronsim accepts, and
    return it as cronsim should see it."""
    if spec is _DOM and item in ("L", "LW"):
        return item
    if spec is _DOW and "L" in item:  # "5L": the last Friday of the month
        if not (item.endswith("L") and _is_uint(item[:-1])):
            raise _field_error(spec, f"{item!r}: 'L' must follow a weekday number, as in 5L")
        _value(spec, item[:-1])
        return item
    if spec is _DOW and "#" in item:  # "1#2": the second Monday of the month
        day, _, nth = item.partition("#")
        _value(spec, day)
        if not (_is_uint(nth) and 1 <= int(nth) <= 5):
            raise _field_error(spec, f"{item!r}: the number after '#' must be 1-5")
        return item
    base, slash, step = item.partition("/")
    if slash and not _is_uint(step):
        raise _field_error(spec, f"step {step!r} in {item!r} is not a number")
    if slash and int(step) == 0:
        raise _field_error(spec, f"step in {item!r} must be at least 1")
    if base == "*":
        return item
    start, dash, end = base.partition("-")
    first = _value(spec, start)
    if dash and _value(spec, end) < first:
        raise _field_error(spec, f"range {base!r} runs backwards")
    if dash and slash and _value(spec, end) == first:
        return start  # cronsim reads "5-5/10" as "5/10" (5, 15, ...); it means just 5
    return item


def _check_fields(parts: list[str]) -> str:
    """Validate the fields; return them normalised (upper case, single spaces)."""
    specs = _FIVE if len(parts) == 5 else (_SECOND, *_FIVE)
    fields = []
    for spec, text in zip(specs, parts, strict=True):
        items = text.upper().split(",")
        if "" in items:
            raise _field_error(spec, f"empty list item in {text!r}")
        fields.append(",".join(_check_item(spec, item) for item in items))
    return " ".join(fields)


# --------------------------------------------------------------------------- naive search


class _Matcher:
    """Finds the next local wall-clock time (naive, whole seconds) matching the fields.

    Pure calendar arithmetic: no time zone, no DST. Days are matched by cronsim (month set,
    Vixie day rule, L, LW, #); time of day by bisecting the sorted hour/minute/second lists.
    """

    __slots__ = (
        "_doms",
        "_hours",
        "_match_day",
        "_minutes",
        "_month_list",
        "_months",
        "_seconds",
        "fields",
        "sim",
    )

    def __init__(self, fields: str) -> None:
        self.fields = fields
        self.sim = CronSim(fields, datetime(2000, 1, 1))
        self._match_day = self.sim.match_day
        self._months = frozenset(self.sim.months)
        self._month_list = sorted(self.sim.months)
        # When both day fields must match and day-of-month lists plain days, only those days
        # can match: the day search jumps between them ("0 0 29 2 *" is 10x faster).
        plain = self.sim.day_and and all(d > 0 for d in self.sim.days)
        self._doms = sorted(self.sim.days) if plain else None
        self._hours = sorted(self.sim.hours)
        self._minutes = sorted(self.sim.minutes)
        self._seconds = sorted(self.sim.seconds)

    def next_after(self, x: datetime, tz: tzinfo | None = None) -> datetime:
        """First matching wall time strictly after the wall time of ``x`` (its tzinfo is
        ignored), returned with ``tz`` attached; raises _NoFire."""
        day = x.date()
        if day.month in self._months and self._match_day(day):
            found = self._time_after(x.hour, x.minute, x.second)
            if found is not None:
                return datetime(day.year, day.month, day.day, *found, tzinfo=tz)
        day = self._day_after(day)
        h, m, s = self._hours[0], self._minutes[0], self._seconds[0]
        return datetime(day.year, day.month, day.day, h, m, s, tzinfo=tz)

    def _time_after(self, h: int, m: int, s: int) -> tuple[int, int, int] | None:
        hours, minutes, seconds = self._hours, self._minutes, self._seconds
        i = bisect_left(hours, h)
        if i < len(hours) and hours[i] == h:
            j = bisect_left(minutes, m)
            if j < len(minutes) and minutes[j] == m:
                k = bisect_right(seconds, s)
                if k < len(seconds):
                    return h, m, seconds[k]
                j += 1
            if j < len(minutes):
                return h, minutes[j], seconds[0]
            i += 1
        if i < len(hours):
            return hours[i], minutes[0], seconds[0]
        return None

    def _day_after(self, day: date) -> date:
        """First matching day strictly after ``day``; raises _NoFire after 50 years."""
        ordinal = day.toordinal() + 1
        limit = min(ordinal + _SCAN_DAYS, date.max.toordinal())
        months, doms, match_day = self._months, self._doms, self._match_day
        while ordinal <= limit:
            day = date.fromordinal(ordinal)
            y, m = day.year, day.month
            if m in months:
                if doms is None:
                    if match_day(day):
                        return day
                    ordinal += 1
                    continue
                if day.day in doms and match_day(day):
                    return day
                i = bisect_right(doms, day.day)
                if i < len(doms) and doms[i] <= _month_length(y, m):
                    ordinal += doms[i] - day.day
                    continue
            # on to the first day of the next month in the month field
            k = bisect_right(self._month_list, m)
            if k < len(self._month_list):
                ordinal = date(y, self._month_list[k], 1).toordinal()
            elif y < MAXYEAR:
                ordinal = date(y + 1, self._month_list[0], 1).toordinal()
            else:
                break
        raise _NoFire


def _month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


@lru_cache(maxsize=4096)
def _compile(expression: str) -> _Matcher:
    """Validated, compiled fields; cached because many jobs share a schedule."""
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise CronError(
            "schedule: expected 5 fields (minute hour day-of-month month day-of-week) "
            f"or 6 (second first), got {len(parts)}"
        )
    try:
        matcher = _Matcher(_check_fields(parts))
    except CronSimError as exc:  # the grammar passed, so only impossible days are left
        field_name = str(exc).removeprefix("Bad ")
        raise CronError(
            f"schedule: {field_name} field: {parts[-3]!r} never occurs in month(s) {parts[-2]!r}"
        ) from None
    sim = matcher.sim
    if sim.day_and and parts[-3] != "*" and parts[-1] != "*":
        try:  # e.g. "0 0 */40 * 1#5": day 1 that is also a fifth Monday
            matcher.next_after(datetime(2000, 1, 1))
        except _NoFire:
            raise CronError(
                f"schedule: day-of-month and day-of-week fields: {parts[-3]!r} and "
                f"{parts[-1]!r} never match together (both must match when either starts "
                "with '*')"
            ) from None
    return matcher


# --------------------------------------------------------------------------- time zones


def _off(dt: datetime) -> timedelta:
    offset = dt.utcoffset()
    assert offset is not None
    return offset


def _naive(instant: datetime, offset: timedelta) -> datetime:
    """Wall time of a UTC ``instant`` at ``offset``."""
    return (instant + offset).replace(tzinfo=None)


def _instant(wall: datetime, offset: timedelta) -> datetime:
    """UTC instant of naive ``wall`` read at ``offset``."""
    u = wall - offset  # the constructor is twice as fast as .replace() on Python 3.11
    return datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, tzinfo=UTC)


def _offsets(zone: ZoneInfo, wall: datetime) -> tuple[timedelta, timedelta]:
    """Offsets of naive ``wall`` read with fold=0 and fold=1 (PEP 495): equal for a normal
    time, larger-then-smaller for a repeated time, smaller-then-larger inside a gap."""
    w = wall
    again = datetime(w.year, w.month, w.day, w.hour, w.minute, w.second, fold=1)
    return _off_of(zone, wall), _off_of(zone, again)


def _off_of(zone: ZoneInfo, wall: datetime) -> timedelta:
    offset = zone.utcoffset(wall)
    assert offset is not None
    return offset


def _transition(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """First whole-second UTC instant in (lo, hi] with hi's offset (one transition between)."""
    target = _off(hi.astimezone(zone))
    lo_s, hi_s = (lo - EPOCH) // _ONE_SECOND, -((EPOCH - hi) // _ONE_SECOND)  # floor, ceil
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _off(datetime.fromtimestamp(mid, zone)) == target:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def _zone(name: str) -> ZoneInfo | None:
    """The zone for an IANA name (None for UTC, the fast path); raises CronError."""
    if not isinstance(name, str) or not _TZ_NAME.fullmatch(name) or len(name) > 64:
        raise CronError(f"timezone: {name!r} is not an IANA time zone name like Europe/Berlin")
    if name in _UTC_NAMES:
        return None
    if name in ("localtime", "posixrules"):  # files in the tz folder, not zone names
        raise CronError(f"timezone: unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"timezone: unknown time zone {name!r}") from None


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class _CronRule:
    """A field expression read in a time zone, with the DST rule of the module docstring."""

    fields: str
    zone_name: str
    wall_clock: bool
    zone: ZoneInfo | None = field(compare=False)
    matcher: _Matcher = field(compare=False, repr=False)

    def next_after(self, a: datetime) -> datetime:
        zone, match = self.zone, self.matcher.next_after
        if zone is None:
            return match(a, UTC)
        loc = a.astimezone(zone)  # the matcher reads only its wall-clock fields
        if loc.fold:  # `a` is in the second pass of a repeated hour
            x, off, off_first = loc.replace(tzinfo=None), _off(loc), _off(loc.replace(fold=0))
            end = _naive(_transition(zone, a - (off_first - off), a), off_first)
            if self.wall_clock:  # wall times before `end` fired in the first pass
                return self._wall_clock_after(a, max(x, end - _ONE_SECOND))
            wall = match(x)
            return _instant(wall, off) if wall < end else self._real_after(end - _ONE_SECOND)
        if self.wall_clock:
            return self._wall_clock_after(a, loc)
        off, off_second = _offsets(zone, loc)
        if off_second < off:  # `a` is in the first pass of a repeated hour
            x = loc.replace(tzinfo=None)
            trans = _transition(zone, a, a + (off - off_second))
            start, end = _naive(trans, off_second), _naive(trans, off)
            wall = match(x)
            if wall < end:
                return _instant(wall, off)
            wall = match(start - _ONE_SECOND)
            if wall < end:
                return _instant(wall, off_second)
            return self._real_after(end - _ONE_SECOND)
        return self._real_after(loc)

    def _wall_clock_after(self, a: datetime, x: datetime) -> datetime:
        """Wall-clock mode. Wall time -> instant is non-decreasing (a repeated time maps to its
        first pass, a skipped one to the end of its gap), so the first matching wall time after
        ``x`` whose instant is after ``a`` is the answer; the loop runs once in practice."""
        assert self.zone is not None
        while True:
            wall = self.matcher.next_after(x)
            off0, off1 = _offsets(self.zone, wall)
            if off0 >= off1:  # exists, or is repeated (fold 0 = first pass)
                instant = _instant(wall, off0)
            else:  # skipped by a spring-forward gap: the first instant after it
                instant = _transition(self.zone, _instant(wall, off1), _instant(wall, off0))
            if instant > a:
                return instant
            x = wall

    def _real_after(self, x: datetime) -> datetime:
        """Real-instant mode from naive ``x`` outside any repeated hour: the next wall time that
        exists; a repeated one fires first in its first pass (next_after handles the second)."""
        assert self.zone is not None
        while True:
            wall = self.matcher.next_after(x)
            off0, off1 = _offsets(self.zone, wall)
            if off0 >= off1:
                return _instant(wall, off0)
            gap_end = _naive(
                _transition(self.zone, _instant(wall, off1), _instant(wall, off0)), off1
            )
            x = max(wall, gap_end - _ONE_SECOND)


@dataclass(frozen=True, slots=True)
class _EveryRule:
    """``@every``: anchor + k * interval, k >= 1, in absolute time."""

    interval: timedelta
    anchor: datetime

    def next_after(self, a: datetime) -> datetime:
        k = max(1, (a - self.anchor) // self.interval + 1)
        return self.anchor + k * self.interval


# --------------------------------------------------------------------------- public API


def _aware_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """An immutable, validated schedule; build it with :func:`parse`.

    ``expression`` is the schedule as given (surrounding whitespace removed), ``timezone``
    the IANA zone it is read in, ``has_seconds`` true for the 6-field form and for an
    ``@every`` interval that is not a whole number of minutes.
    """

    expression: str
    timezone: str
    has_seconds: bool
    _rule: _CronRule | _EveryRule = field(repr=False)

    def next_after(self, after: datetime) -> datetime:
        """The first fire instant strictly after ``after`` (aware), as an aware UTC datetime.

        Raises ValueError for a naive ``after`` and CronError when the schedule has no fire
        instant left before the year 10000.
        """
        a = _aware_utc(after, "after")
        try:
            if a < _LAST_START:
                return self._rule.next_after(a)
        except (_NoFire, OverflowError):
            pass
        raise CronError(f"schedule: {self.expression!r} does not fire after {a.isoformat()}")

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        """Successive fire instants (UTC) strictly after ``after``, strictly increasing."""
        instant = _aware_utc(after, "after")

        def generate(instant: datetime) -> Iterator[datetime]:
            while True:
                instant = self.next_after(instant)
                yield instant

        return generate(instant)

    def describe(self) -> str:
        """Plain English, e.g. ``At 02:00 every day (Europe/Berlin)``."""
        rule = self._rule
        if isinstance(rule, _EveryRule):
            start = rule.anchor.strftime("%Y-%m-%d %H:%M:%S UTC")
            return f"Every {_human(rule.interval)}, counted from {start}"
        sim = rule.matcher.sim
        parts = rule.matcher.fields.split()
        weekdays = {d % 7 for d in sim.weekdays if isinstance(d, int)}
        if not sim.day_and and (sim.days.issuperset(range(1, 32)) or len(weekdays) == 7):
            # "0 0 1-31 * 1" runs every day (either day field may match); cronsim's explainer
            # would say "on Monday", so explain the equivalent "0 0 * * *" instead.
            parts[-3] = parts[-1] = "*"
        text = CronSim(" ".join(parts), datetime(2000, 1, 1)).explain()
        return f"{text} ({self.timezone})"


def _human(interval: timedelta) -> str:
    total, words = int(interval.total_seconds()), []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, total = divmod(total, size)
        if count:
            words.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(words)


def _parse_every(text: str, anchor: datetime) -> _EveryRule:
    duration = text.strip().lower()
    match = _EVERY.fullmatch(duration)
    if not duration or match is None:
        raise CronError(
            f"schedule: @every: {text.strip()!r} is not a duration like 90s, 5m, 1h30m or 1d"
        )
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total < MIN_EVERY.total_seconds():
        raise CronError(f"schedule: @every: {duration!r} is below the minimum of 1s")
    if total > MAX_EVERY.total_seconds():
        raise CronError(f"schedule: @every: {duration!r} exceeds the maximum of 7d")
    return _EveryRule(timedelta(seconds=total), anchor.replace(microsecond=0))


def parse(
    expression: str, timezone: str = "UTC", *, anchor: datetime | None = None
) -> CronSchedule:
    """Validate ``expression`` read in IANA zone ``timezone`` and return its schedule.

    ``anchor`` (aware; default the Unix epoch, microseconds dropped) is where ``@every``
    starts counting: it fires at anchor + k * interval, k >= 1. Cron forms ignore it.
    Raises CronError (a ValueError) naming the field for any invalid input, and ValueError
    for a naive ``anchor``.
    """
    start = EPOCH if anchor is None else _aware_utc(anchor, "anchor")
    if not isinstance(expression, str):
        raise CronError(f"schedule: must be a string, got {type(expression).__name__}")
    text = expression.strip()
    if not text:
        raise CronError("schedule: must not be empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise CronError(f"schedule: longer than {MAX_EXPRESSION_LENGTH} characters")
    if not text.isascii() or not all(ch.isprintable() or ch == "\t" for ch in text):
        raise CronError("schedule: only printable ASCII characters, spaces and tabs are allowed")
    zone = _zone(timezone)
    if text.startswith("@"):
        word, *rest = text.split(None, 1)
        word = word.lower()
        if word == "@every":
            every = _parse_every(rest[0] if rest else "", start)
            sub_minute = int(every.interval.total_seconds()) % 60 != 0
            return CronSchedule(text, timezone, sub_minute, every)
        if word not in _MACROS or rest:
            known = " ".join([*_MACROS, "@every <duration>"])
            raise CronError(f"schedule: unknown macro {text!r} (supported: {known})")
        fields = _MACROS[word]
    else:
        fields = " ".join(text.split())
    matcher = _compile(fields)
    parts = fields.split()
    hour_field = parts[-4]
    rule = _CronRule(
        fields=fields,
        zone_name=timezone,
        wall_clock="*" not in hour_field and "/" not in hour_field,
        zone=zone,
        matcher=matcher,
    )
    return CronSchedule(text, timezone, len(parts) == 6, rule)
