"""``JobDefinition``: a job as a worker defines it with the server, and its handler.

Its own module so that the app (``app.py``, which builds definitions) and the worker
(``worker.py``, which sends them and runs their handlers) both import it without importing
each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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
