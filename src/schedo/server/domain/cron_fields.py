"""Cron fields: validation with messages that name the field, and the naive search of the
matching times of a day (``Matcher``) on top of cronsim's day rules. Part of ``cron.py``'s
facade (see its docstring); nothing outside ``cron.py`` imports this module.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import MAXYEAR, date, datetime, tzinfo
from functools import lru_cache

from cronsim import CronSim, CronSimError

# Any day pattern cronsim accepts recurs within 40 years (Feb 29 on a given weekday has the
# longest gap, across 2100); a search that finds nothing in 50 years means "never".
_SCAN_DAYS = 50 * 366


class CronError(ValueError):
    """An invalid schedule or time zone; ``str(e)`` names the field and the bad value."""


class NoFire(Exception):
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


class Matcher:
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
        ignored), returned with ``tz`` attached; raises NoFire."""
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
        """First matching day strictly after ``day``; raises NoFire after 50 years."""
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
        raise NoFire


def _month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Matcher:
    """Validated, compiled fields; cached because many jobs share a schedule."""
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise CronError(
            "schedule: expected 5 fields (minute hour day-of-month month day-of-week) "
            f"or 6 (second first), got {len(parts)}"
        )
    try:
        matcher = Matcher(_check_fields(parts))
    except CronSimError as exc:  # the grammar passed, so only impossible days are left
        field_name = str(exc).removeprefix("Bad ")
        raise CronError(
            f"schedule: {field_name} field: {parts[-3]!r} never occurs in month(s) {parts[-2]!r}"
        ) from None
    sim = matcher.sim
    if sim.day_and and parts[-3] != "*" and parts[-1] != "*":
        try:  # e.g. "0 0 */40 * 1#5": day 1 that is also a fifth Monday
            matcher.next_after(datetime(2000, 1, 1))
        except NoFire:
            raise CronError(
                f"schedule: day-of-month and day-of-week fields: {parts[-3]!r} and "
                f"{parts[-1]!r} never match together (both must match when either starts "
                "with '*')"
            ) from None
    return matcher


