"""Hashed cron fields (``H``, Jenkins-compatible) and per-tick jitter: spreading without state.

Pure (no I/O). Both derive their value from SHA-256 of a *seed*, the job's environment id and
name (:func:`seed_of`), never from Python's ``hash()`` (salted per process): the same job
resolves the same on every node, in every process, on every call.

``H`` items, allowed in any field (seconds included), alone or inside a list:

* ``H``          one value of the field's range;
* ``H/n``        every n-th value from an offset in ``[lo, lo+n)``: ``H/15`` -> ``7-59/15``;
* ``H(a-b)``     one value of ``a..b``;
* ``H(a-b)/n``   every n-th value of ``a..b`` from an offset in ``[a, a+n)``.

As in Jenkins, ``H`` in day-of-month ranges over 1-28 (every month has those days) and in
day-of-week over 0-6. :func:`resolve` rewrites an expression into plain cron text
(``H * * * *`` -> ``37 * * * *``), which ``cron.parse`` then reads like any other; an
expression without ``H`` is returned unchanged. Each ``H`` item hashes the seed with its
field and position, so ``H H * * *`` picks minute and hour independently.

:func:`jitter_offset` is a tick's offset in ``[0, jitter_seconds)`` (milliseconds), derived
from the seed and the tick's instant: chosen once per tick, the same on every node, with no
row to store it in.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from .cron_fields import CronError

__all__ = ["HASH_RANGES", "jitter_offset", "resolve", "seed_of", "uses_hash"]

# (field name, lowest, highest) that H ranges over, 5-field order; seconds first in 6 fields
_SECOND = ("second", 0, 59)
HASH_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 28),
               ("month", 1, 12), ("day-of-week", 0, 6))
# the bounds an explicit H(a-b) may name: the field's whole range
_BOUNDS = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day-of-month": (1, 31),
           "month": (1, 12), "day-of-week": (0, 7)}
_ITEM = re.compile(r"H(?:\((\d{1,3})-(\d{1,3})\))?(?:/(\d{1,3}))?")
_HAS_H = re.compile(r"(?:^|[\s,])H", re.IGNORECASE)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def seed_of(environment_id: int, name: str) -> str:
    """The seed of a job: its environment and name (a job's identity across nodes)."""
    return f"{environment_id}:{name}"


def _number(seed: str, *salt: object) -> int:
    text = "\x00".join([seed, *map(str, salt)]).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def uses_hash(expression: str) -> bool:
    """True when a cron expression has an ``H`` item (macros and ``@every`` never do)."""
    text = expression.strip()
    return not text.startswith("@") and bool(_HAS_H.search(text))


def _item(seed: str, field: tuple[str, int, int], index: tuple[int, int], item: str) -> str:
    name, lo, hi = field
    m = _ITEM.fullmatch(item.upper())
    if m is None:
        raise CronError(f"schedule: {name} field: {item!r} is not H, H/n, H(a-b) or H(a-b)/n")
    a, b, step = m.groups()
    if a is not None:
        lo, hi = int(a), int(b)
        low, high = _BOUNDS[name]
        for v in (lo, hi):
            if not low <= v <= high:
                raise CronError(f"schedule: {name} field: {v} in {item!r} is out of range "
                                f"{low}-{high}")
        if hi < lo:
            raise CronError(f"schedule: {name} field: range in {item!r} runs backwards")
    n = _number(seed, *index)
    if step is None:
        return str(lo + n % (hi - lo + 1))
    every = int(step)
    if every < 1:
        raise CronError(f"schedule: {name} field: step in {item!r} must be at least 1")
    start = lo + n % min(every, hi - lo + 1)
    return str(start) if start + every > hi else f"{start}-{hi}/{every}"


@lru_cache(maxsize=65536)
def resolve(expression: str, seed: str) -> str:
    """``expression`` with every ``H`` item replaced by its value for ``seed``; unchanged
    when it has none. Raises CronError naming the field for a malformed ``H`` item; the rest
    of the expression is checked by ``cron.parse`` afterwards."""
    if not uses_hash(expression):
        return expression
    parts = expression.split()
    if len(parts) not in (5, 6):
        return expression  # cron.parse reports the field count
    specs = HASH_RANGES if len(parts) == 5 else (_SECOND, *HASH_RANGES)
    out = []
    for f, (spec, text) in enumerate(zip(specs, parts, strict=True)):
        items = text.split(",")
        out.append(",".join(
            _item(seed, spec, (f if len(parts) == 5 else f - 1, i), item)
            if item[:1] in ("H", "h") else item
            for i, item in enumerate(items)))
    return " ".join(out)


def jitter_offset(seed: str, instant: datetime, jitter_seconds: int) -> timedelta:
    """The offset of the tick at ``instant`` (aware) in ``[0, jitter_seconds)``, whole
    milliseconds; zero without jitter."""
    if jitter_seconds <= 0:
        return timedelta(0)
    ms = (instant - _EPOCH) // timedelta(milliseconds=1)
    return timedelta(milliseconds=_number(seed, "jitter", ms) % (jitter_seconds * 1000))
