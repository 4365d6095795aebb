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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim

from .cron_fields import CronError, Matcher, NoFire, compile_expression

__all__ = ["MAX_EXPRESSION_LENGTH", "CronError", "CronSchedule", "parse"]

MAX_EXPRESSION_LENGTH = 256
MIN_EVERY = timedelta(seconds=1)
MAX_EVERY = timedelta(days=7)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_ONE_SECOND = timedelta(seconds=1)
_LAST_START = datetime(9999, 12, 1, tzinfo=UTC)  # keeps the arithmetic inside datetime's range
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
    matcher: Matcher = field(compare=False, repr=False)

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


NEVER = "@never"


@dataclass(frozen=True, slots=True)
class _AtRule:
    """``@at <instant>``: fires once, at that instant; then never again."""

    instant: datetime

    def next_after(self, a: datetime) -> datetime:
        if a < self.instant:
            return self.instant
        raise NoFire


@dataclass(frozen=True, slots=True)
class _NeverRule:
    """``@never`` (issue 21): no fire instant; the job runs when triggered or chained."""

    def next_after(self, a: datetime) -> datetime:
        raise NoFire


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
    _rule: _CronRule | _EveryRule | _AtRule | _NeverRule = field(repr=False)

    def next_after(self, after: datetime) -> datetime:
        """The first fire instant strictly after ``after`` (aware), as an aware UTC datetime.

        Raises ValueError for a naive ``after`` and CronError when the schedule has no fire
        instant left before the year 10000.
        """
        a = _aware_utc(after, "after")
        try:
            if a < _LAST_START:
                return self._rule.next_after(a)
        except (NoFire, OverflowError):
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
        if isinstance(rule, _NeverRule):
            return "Never on a schedule (only when triggered or chained)"
        if isinstance(rule, _AtRule):
            return f"Once, at {rule.instant.strftime('%Y-%m-%d %H:%M:%S UTC')}"
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


def _parse_at(text: str) -> _AtRule:
    """``@at 2027-01-01T06:00:00+01:00``: an RFC 3339 instant with an offset (the time zone
    of the job plays no part), whole milliseconds kept, years 2000-2200."""
    value = text.strip()
    try:
        dt: datetime | None = datetime.fromisoformat(value)
    except ValueError:
        dt = None
    if dt is None or dt.tzinfo is None or dt.utcoffset() is None:
        raise CronError(f"schedule: @at: {value[:60]!r} is not an RFC 3339 date-time with an "
                        "offset, such as 2027-01-01T06:00:00+01:00")
    try:
        at = dt.astimezone(UTC)
    except OverflowError:  # past either end of datetime's range
        at = dt.replace(year=1, tzinfo=UTC)
    if not 2000 <= at.year <= 2200:
        raise CronError("schedule: @at: must be between the years 2000 and 2200")
    return _AtRule(at.replace(microsecond=at.microsecond // 1000 * 1000))


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
        if word == "@at":
            at = _parse_at(rest[0] if rest else "")
            return CronSchedule(text, timezone, at.instant.second != 0, at)
        if word == NEVER and not rest:
            return CronSchedule(text, timezone, False, _NeverRule())
        if word not in _MACROS or rest:
            known = " ".join([*_MACROS, "@every <duration>", "@at <instant>", NEVER])
            raise CronError(f"schedule: unknown macro {text!r} (supported: {known})")
        fields = _MACROS[word]
    else:
        fields = " ".join(text.split())
    matcher = compile_expression(fields)
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
