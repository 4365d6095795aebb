"""``JobDefinition``: a job as a worker defines it with the server, and its handler.

Its own module so that the app (``app.py``, which builds definitions) and the worker
(``worker.py``, which sends them and runs their handlers) both import it without importing
each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import DefinitionError

NEVER_SCHEDULE = "@never"  # a job that runs only after others (or when triggered)
ON_VALUES = ("success", "failure", "completion")


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """A job as the worker defines it with the server, and the handler that runs it."""

    name: str
    schedule: str
    handler: Callable[..., Any]
    timezone: str = "UTC"
    timeout: float = 60
    blocking: bool = False
    max_retries: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    catch_up: str = "latest"
    is_async: bool = False
    takes_context: bool = True
    capture_logs: bool = False  # forward its logging records to the live output
    jitter_seconds: int = 0  # each tick's due time moves by up to this (server-side)
    overlap: str | None = None  # "skip" | "allow" | "buffer_one" (None: from blocking)
    max_concurrency: int | None = None
    # alert rules and routing (issue 19): only the ones given, sent as they are
    alerts: dict[str, Any] = field(default_factory=dict)
    # chains (issue 21): {"jobs": [...], "on": ..., "within_seconds": ...}; None: none
    after: dict[str, Any] | None = None

    @property
    def timeout_seconds(self) -> int:
        """The server's deadline is whole seconds; the local timeout may be finer."""
        return max(1, math.ceil(self.timeout))


ALERT_FIELDS = ("alert_after_failures", "max_duration_seconds", "success_within_seconds",
                "pause_after_failures", "channels", "remind_every_seconds")


def given_alerts(**options: Any) -> dict[str, Any]:
    """The alert options that were given (not None), ``channels`` as a list; the server
    checks them when the job is defined (400 naming the field)."""
    got = {k: v for k, v in options.items() if k in ALERT_FIELDS and v is not None}
    if "channels" in got:
        got["channels"] = list(got["channels"])
    return got


def given_after(name: str, after: Sequence[str] | None, on: str,
                within_seconds: int | None) -> dict[str, Any] | None:
    """The ``after`` of a definition (None: the job runs after no other job), checked as
    far as the app can (the server checks that the jobs exist and form no cycle). Raises
    ``DefinitionError`` naming the field."""
    if after is None:
        return None
    names = [after] if isinstance(after, str) else list(after)
    problems = []
    if not names or not all(isinstance(n, str) and n for n in names):
        problems.append("after: must be a non-empty list of job names")
    elif name in names:
        problems.append(f"after: a job cannot run after itself ({name!r})")
    elif len(set(names)) != len(names):
        problems.append("after: a job is named twice")
    if on not in ON_VALUES:
        problems.append(f"on: must be one of {', '.join(ON_VALUES)}")
    if within_seconds is not None and (isinstance(within_seconds, bool) or not isinstance(
            within_seconds, int) or within_seconds < 1):
        problems.append("within_seconds: must be a positive whole number of seconds")
    if problems:
        raise DefinitionError(f"job {name!r}: " + "; ".join(problems), problems, name)
    out: dict[str, Any] = {"jobs": names, "on": on}
    if within_seconds is not None:
        out["within_seconds"] = within_seconds
    return out


def define_waves(jobs: Iterable[JobDefinition]) -> list[list[JobDefinition]]:
    """The app's jobs in waves to define one after another: each job after the jobs of the
    app it runs after (the server refuses an ``after`` naming a job it does not know yet).
    Upstream jobs outside the app are taken as defined; a cycle (which the server will
    refuse) goes last, in the app's order."""
    left: Mapping[str, JobDefinition] = {d.name: d for d in jobs}
    todo = dict(left)
    waves: list[list[JobDefinition]] = []
    while todo:
        ready = [d for d in todo.values()
                 if not any(up in todo for up in (d.after or {}).get("jobs", ()))]
        if not ready:  # a cycle
            ready = list(todo.values())
        for d in ready:
            del todo[d.name]
        waves.append(ready)
    return waves
