"""Text every database can store: no lone UTF-16 surrogates (JSON allows ``"\\ud800"``,
UTF-8 does not) and no NUL characters (PostgreSQL's text and jsonb refuse them)."""

from __future__ import annotations

import re

_BAD = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as it is, or None."""
    m = _BAD.search(value)
    if m is None:
        return None
    if m.group() == "\x00":
        return "contains a NUL character (\\u0000)"
    return "contains a lone UTF-16 surrogate (such as \\ud800): send valid Unicode"


def digits(text: str) -> bool:
    """``text`` is ASCII digits only. ``str.isdigit`` is true for "²" or "٣" too, which
    ``int()`` refuses or reads as another number: never use it alone before ``int()``."""
    return text.isascii() and text.isdigit()


def unicode_safe(value: str) -> str:
    """``value`` with every lone surrogate and NUL replaced by U+FFFD."""
    return _BAD.sub("\ufffd", value)
