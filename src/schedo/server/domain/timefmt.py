"""Time helpers shared by every layer: RFC 3339 UTC strings, epoch milliseconds, durations."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime; naive input is refused."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: every time in Schedo is timezone-aware")
    return dt.astimezone(UTC)


def to_ms(dt: datetime) -> int:
    """Aware datetime -> integer milliseconds since the Unix epoch (floor)."""
    d = utc(dt)
    return (int(d.replace(microsecond=0).timestamp()) * 1000) + d.microsecond // 1000


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)


def rfc3339(dt: datetime | None) -> str | None:
    """``2026-11-28T12:00:00Z`` (milliseconds shown only when non-zero)."""
    if dt is None:
        return None
    d = utc(dt)
    if d.microsecond:
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


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
