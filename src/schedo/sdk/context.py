"""``JobContext``: what a handler receives about the run it is executing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class JobContext:
    """One run of a job, as handed to its handler.

    ``scheduled_for`` is the instant the run was due (aware, UTC); ``attempt`` is 1 for the
    first try and grows with retries; ``metadata`` is the job's metadata at run time;
    ``log`` is a logger (``schedo.job.<job_code>``) whose lines carry the execution id.
    """

    execution_id: int
    job_code: str
    attempt: int
    scheduled_for: datetime
    metadata: dict[str, Any]
    trigger: str = "schedule"
    job_id: int = 0
    payload: dict[str, Any] | None = None  # a manual trigger's payload (None without one)
    log: logging.LoggerAdapter[logging.Logger] = field(
        default_factory=lambda: logging.LoggerAdapter(logging.getLogger("schedo.job")),
        repr=False,
        compare=False,
    )


class _RunLogger(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        return f"[execution {extra.get('execution_id')}] {msg}", kwargs


def run_logger(job_code: str, execution_id: int) -> logging.LoggerAdapter[logging.Logger]:
    return _RunLogger(
        logging.getLogger(f"schedo.job.{job_code}"),
        {"execution_id": execution_id, "job_code": job_code},
    )
