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

    @property
    def timeout_seconds(self) -> int:
        """The server's deadline is whole seconds; the local timeout may be finer."""
        return max(1, math.ceil(self.timeout))
