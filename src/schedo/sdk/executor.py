"""What the worker runtime (``runtime.py``) asks of the code that carries out a run: the
``Executor`` protocol, the ``Outcome`` it returns and the ``Abort`` it watches.

Two executors exist. ``handlers.HandlerExecutor`` calls the handler of a Python app
(``Schedo.run()``, ``schedo worker``); ``schedo.cli.agent_exec.CommandExecutor`` runs the
shell command of a command job (``schedo agent``). Everything around a run (pulling, the
concurrency limit, reporting, the shutdown) is the runtime's, the same for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .models import Execution


@dataclass(frozen=True, slots=True)
class Outcome:
    """A run's result as it is reported (``POST /jobs/executions/complete``).

    ``output`` and ``error`` are the run's text; ``exit_code`` a command's exit status (None
    for a handler); ``start_ms`` / ``end_ms`` when the run started and ended, in Unix ms
    (None: left to the server)."""

    success: bool
    output: str | None = None
    error: str | None = None
    exit_code: int | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    @property
    def label(self) -> str:
        return "completed" if self.success else "failed"


class Abort:
    """Set once, when the runtime gives up on the runs still going (the shutdown grace
    expired, a second stop request, its task cancelled); ``reason`` says which, e.g.
    ``shutdown grace 30s expired``.

    Each run gets a ``child()``: set with its parent, or on its own by ``cancel()`` when the
    run was cancelled on the server (``cancelled`` then says so: the executor reports
    nothing, the server has already ended the run)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.reason = "the worker stopped"
        self.cancelled = False
        self._children: set[Abort] = set()
        self._callbacks: list[Callable[[], None]] = []

    def set(self, reason: str) -> None:
        """The first reason given is the one kept."""
        if not self.event.is_set():
            self.reason = reason
            self.event.set()
            for callback in list(self._callbacks):
                callback()
            for child in list(self._children):
                child.set(reason)

    def cancel(self, reason: str = "the run was cancelled") -> None:
        """The run was cancelled (a child's): set, with ``cancelled`` true."""
        if not self.event.is_set():
            self.cancelled = True
            self.set(reason)

    def child(self) -> Abort:
        """A per-run abort, set when this one is (at once if it already is)."""
        kid = Abort()
        self._children.add(kid)
        if self.is_set():
            kid.set(self.reason)
        return kid

    def forget(self, child: Abort) -> None:
        self._children.discard(child)

    def is_set(self) -> bool:
        return self.event.is_set()

    def on_set(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (on the event loop, without arguments) when this is set; returns
        the function that takes it back. A run's wait for its handler uses it instead of a
        task per run waiting on the event."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    async def wait(self) -> None:
        await self.event.wait()


class Executor(Protocol):
    """Carries out the runs the runtime has claimed."""

    async def run(self, execution: Execution, abort: Abort) -> Outcome | None:
        """Run ``execution`` and return what to report, or None when there is nothing to
        report (the agent could not load the job: the server expires the run; the run was
        cancelled: ``abort.cancelled``, the server ended it). Returns soon after ``abort`` is
        set (the run then failed, saying why). An exception is logged and
        the run counted as not reported (exit status 1)."""
        ...

    async def close(self) -> None:
        """At the end of the shutdown: wait for what outlived its runs (the agent's killing
        of timed-out process groups)."""
        ...


def format_seconds(seconds: float) -> str:
    """``30s``, ``0.5s``: a duration in the runtime's messages."""
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds:g}s"
