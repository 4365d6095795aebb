"""Runs while they run (issue 21): cancellation and live output. Part of the storage
contract; the rules that hold for every method are in ``storage/contracts/__init__.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ...domain.records import LogLine, Run


@dataclass(frozen=True, slots=True)
class LogCaps:
    """Per-run limits of the live output: lines and bytes (UTF-8) kept."""

    lines: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Appended:
    """What ``append_log`` did: lines kept, lines dropped by the caps, and whether the run
    is still live (pending or running) after the call."""

    kept: int
    dropped: int
    live: bool


class LiveStore(Protocol):
    async def cancel(
        self, env_id: int, exec_id: int, now: datetime, reason: str | None = None
    ) -> Run:
        """End a pending or running execution as ``cancelled`` (``lifecycle.cancel``): its
        end time now, its error saying it was cancelled; the job's status follows (as for any
        end); no retry, no health turn. NotFound unless it is in the environment; Conflict
        (naming its status) when it already ended, and then nothing changes."""

    async def cancelled_among(self, env_id: int, ids: Sequence[int]) -> list[int]:
        """The ids of ``ids`` that are cancelled executions of the environment, ascending
        (other and foreign ids are left out)."""

    async def append_log(
        self, env_id: int, exec_id: int, lines: Sequence[tuple[datetime, str, str]],
        caps: LogCaps,
    ) -> Appended:
        """Append (at, stream, line) rows to the execution's log, in order, in one
        transaction, while the log stays within ``caps`` (lines and UTF-8 bytes, counted over
        everything the run kept). The first line that does not fit is replaced by one
        ``stream="cut"`` line saying the log was cut at the cap; after it nothing more is
        kept (the rest is counted as dropped). NotFound unless the execution is in the
        environment. Lines for an ended run are still kept (a batch may arrive just after
        the report); ``live`` says whether it still runs."""

    async def read_log(
        self, env_id: int, exec_id: int, after_id: int, limit: int
    ) -> tuple[Run, list[LogLine]]:
        """The execution and up to ``limit`` of its log lines with id > ``after_id``, oldest
        first, in one read. NotFound unless the execution is in the environment."""
