"""Pieces of the command line that need neither typer nor rich: the one-line error of a
failure, and short texts for people. ``support.py`` re-exports them; ``schedo agent``'s
runtime (agent.py, agent_exec.py) takes them from here so that an agent process started
through cli/fastpath.py does not load the rest of the command line (issue 18)."""

from __future__ import annotations

from ..sdk.errors import ApiError
from .exit_codes import EXIT_API


class CliError(Exception):
    """A failure the command line reports as one line with a given exit code."""

    def __init__(self, message: str, code: int = EXIT_API) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def describe_error(exc: BaseException) -> str:
    """One line for an error: the server's message and status, or the SDK's text."""
    if isinstance(exc, CliError):
        return exc.message
    if isinstance(exc, ApiError):
        return f"{exc.message} (HTTP {exc.status})"
    return " ".join(str(exc).split()) or type(exc).__name__


def duration(ms: int | None) -> str:
    """Milliseconds for people: ``350ms``, ``4.2s``, ``3m07s``, ``2h05m``."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def shorten(text: str | None, limit: int = 60) -> str:
    """The first line of ``text``, cut to ``limit`` characters."""
    if not text:
        return ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    more = len(text.strip().splitlines()) > 1
    if len(first) > limit:
        return first[: limit - 1] + "…"
    return first + (" …" if more else "")
