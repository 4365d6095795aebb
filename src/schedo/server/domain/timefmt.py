"""Time helpers shared by every layer: RFC 3339 UTC strings, epoch milliseconds, durations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from .text import digits


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime; naive input is refused."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: every time in Schedo is timezone-aware")
    return dt.astimezone(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(dt: datetime) -> int:
    """Aware datetime -> integer milliseconds since the Unix epoch (floor)."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: every time in Schedo is timezone-aware")
    return (dt - _EPOCH) // _MS


@lru_cache(maxsize=8192)  # a herd's runs share their instants: a hit is ~10x cheaper
def from_ms(ms: int) -> datetime:
    """Milliseconds since the Unix epoch -> aware UTC datetime (hot: every stored time;
    datetimes are immutable, so one instance may serve every row of an instant)."""
    return _EPOCH + timedelta(0, 0, 0, ms)


def rfc3339(dt: datetime | None) -> str | None:
    """``2026-11-28T12:00:00Z`` (milliseconds shown only when non-zero)."""
    return None if dt is None else _rfc3339(dt)


@lru_cache(maxsize=4096)  # a herd's runs share their due and pick-up instants
def _rfc3339(dt: datetime) -> str:
    # equal aware datetimes are the same instant, so one key gives one text
    d = dt if dt.tzinfo is UTC else utc(dt)
    # hot (four per run in every list): isoformat is C, and ends in "+00:00" for UTC
    if d.microsecond:
        return d.isoformat(timespec="milliseconds")[:-6] + "Z"
    return d.isoformat(timespec="seconds")[:-6] + "Z"


def format_duration(seconds: int) -> str:
    """Seconds as a compact duration string: 30 -> "30s", 300 -> "5m", 5400 -> "1h30m"."""
    if seconds <= 0:
        return "0s"
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    parts = []
    if h:
        parts.append(f"{h}h")
    if m:
        parts.append(f"{m}m")
    if s:
        parts.append(f"{s}s")
    return "".join(parts)


_DURATION = re.compile(r"^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")  # ASCII digits only


def parse_duration(text: str) -> int | None:
    """The inverse of ``format_duration``: "30s", "5m", "1h30m", "90" (seconds) -> seconds.
    None when ``text`` is no such duration (or zero)."""
    t = text.strip().lower()
    if digits(t):
        return int(t) if len(t) <= 9 else None
    m = _DURATION.match(t)
    if not t or m is None or any(g is not None and len(g) > 9 for g in m.groups()):
        return None
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s or None
