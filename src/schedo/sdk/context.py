"""``JobContext``: what a handler receives about the run it is executing."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .executor import Abort


class RunCancelled(Exception):
    """Raised by ``ctx.raise_if_cancelled()`` once the run was cancelled on the server."""


@dataclass(frozen=True, slots=True)
class JobContext:
    """One run of a job, as handed to its handler.

    ``scheduled_for`` is the instant the run was due (aware, UTC); ``attempt`` is 1 for the
    first try and grows with retries; ``metadata`` is the job's metadata at run time;
    ``log`` is a logger (``schedo.job.<job_code>``) whose lines carry the execution id.
    ``cancelled`` turns true when the run is cancelled on the server (a sync handler checks
    it, or calls ``raise_if_cancelled()``; an async handler is cancelled outright).
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
    abort: Abort | None = field(default=None, repr=False, compare=False)

    @property
    def cancelled(self) -> bool:
        """True once the run was cancelled (``POST /jobs/executions/{id}/cancel``)."""
        return self.abort is not None and self.abort.cancelled

    def raise_if_cancelled(self) -> None:
        """Raise ``RunCancelled`` if the run was cancelled: a checkpoint for long loops."""
        if self.cancelled:
            raise RunCancelled(f"execution {self.execution_id} was cancelled")

    def cancel(self) -> None:
        """Cancel this run as the server would (for tests of a handler: see ``local``)."""
        if self.abort is None:
            raise RuntimeError("this context has no Abort: build it with JobContext.local()")
        self.abort.cancel()

    @classmethod
    def local(
        cls,
        job_code: str = "local-job",
        *,
        execution_id: int = 1,
        attempt: int = 1,
        scheduled_for: datetime | None = None,
        metadata: dict[str, Any] | None = None,
        trigger: str = "manual",
        lines: list[str] | None = None,
    ) -> JobContext:
        """A context for calling a handler in a test, without a server: ``ctx.log(...)``
        lines are appended to ``lines`` (when given); ``ctx.cancel()`` cancels the run."""
        from datetime import UTC

        return cls(
            execution_id=execution_id, job_code=job_code, attempt=attempt,
            scheduled_for=scheduled_for or datetime.now(UTC), metadata=dict(metadata or {}),
            trigger=trigger, log=run_logger(job_code, execution_id,
                                            lines.append if lines is not None else None),
            abort=Abort(),
        )


Sink = Callable[[str], None]
# the live-output sink of the run the current task or thread serves (logging capture)
CURRENT_SINK: contextvars.ContextVar[Sink | None] = contextvars.ContextVar(
    "schedo_run_sink", default=None)
NOT_CAPTURED = ("schedo.worker", "schedo.agent", "httpcore", "httpx")


class _RunLogger(logging.LoggerAdapter[logging.Logger]):
    """``ctx.log``: a logger adapter (``ctx.log.info(...)``), and callable:
    ``ctx.log("text")`` sends a line to the run's live output (and logs it at INFO)."""

    def __init__(self, name: str, extra: dict[str, Any], sink: Sink | None = None) -> None:
        self._name = name
        self._logger: logging.Logger | None = None
        super().__init__(None, extra)  # type: ignore[arg-type]  # the logger comes on first use
        self.sink = sink

    # The logger is looked up (``logging.getLogger``, made and kept the first time a name is
    # seen) when the handler first logs: a run that does not log costs no lookup.
    @property  # type: ignore[override]
    def logger(self) -> logging.Logger:
        if self._logger is None:
            self._logger = logging.getLogger(self._name)
        return self._logger

    @logger.setter
    def logger(self, value: logging.Logger | None) -> None:
        self._logger = value

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        return f"[execution {extra.get('execution_id')}] {msg}", kwargs

    def __call__(self, msg: object, *args: object) -> None:
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(map(str, (msg, *args)))
        if self.sink is not None:
            self.sink(text)
        self.info("%s", text, extra={"schedo_live": True})


def run_logger(job_code: str, execution_id: int,
               sink: Sink | None = None) -> logging.LoggerAdapter[logging.Logger]:
    return _RunLogger(
        f"schedo.job.{job_code}",
        {"execution_id": execution_id, "job_code": job_code},
        sink,
    )


class CaptureHandler(logging.Handler):
    """Forwards the ``logging`` records emitted while a run with ``capture_logs`` runs (in
    its task, or its handler's thread) to that run's live output. Installed once on the
    root logger; records of ``ctx.log(...)`` (already sent) and of the worker's own
    loggers are left out."""

    def emit(self, record: logging.LogRecord) -> None:
        sink = CURRENT_SINK.get()
        if sink is None or getattr(record, "schedo_live", False):
            return
        if record.name.startswith(NOT_CAPTURED):
            return
        try:
            sink(f"{record.levelname} {record.name}: {record.getMessage()}")
        except Exception:  # a broken message must not fail the handler
            self.handleError(record)


_capture: CaptureHandler | None = None


def install_capture() -> None:
    """Add the ``CaptureHandler`` to the root logger (once per process)."""
    global _capture
    if _capture is None:
        _capture = CaptureHandler()
        logging.getLogger().addHandler(_capture)
