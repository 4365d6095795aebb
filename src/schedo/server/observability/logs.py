"""Logging setup: structlog over stdlib logging; console or JSON lines (SCHEDO_LOG_FORMAT)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from .logs_hardening import quiet_secret_loggers


def _import_structlog() -> None:
    """structlog imports rich and pygments (~3-6 MB, issue 18: idle RSS) when it is first
    imported, only for its console tracebacks; imported here with rich marked absent, it does
    without, and the console renderer imports rich at its first traceback
    (``rich_traceback``). rich stays importable for everything else."""
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]


_import_structlog()
import structlog  # noqa: E402  (after _import_structlog, on purpose)


def rich_traceback(sio: TextIO, exc_info: structlog.typing.ExcInfo) -> None:
    """structlog's ``RichTracebackFormatter(show_locals=False)`` with its defaults, rich
    imported at the first traceback. Tracebacks without their frames' locals: a local may
    hold a secret (the settings' admin key, a request's API key), and logs are read by more
    people than the server."""
    from rich.console import Console
    from rich.traceback import Traceback

    sio.write("\n")
    tb = Traceback.from_exception(*exc_info, show_locals=False, word_wrap=True, width=None)
    tb.code_width = 88
    Console(file=sio, color_system="truecolor", width=None).print(tb)


SHARED: list[structlog.types.Processor] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def formatter(fmt: str = "console") -> logging.Formatter:
    """The formatter of the server's log lines: JSON lines or the console renderer."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        # tracebacks without their frames' locals (rich_traceback)
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=rich_traceback
        )
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def configure(level: str = "INFO", fmt: str = "console") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    quiet_secret_loggers()
