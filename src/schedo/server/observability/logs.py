"""Logging setup: structlog over stdlib logging; console or JSON lines (SCHEDO_LOG_FORMAT)."""

from __future__ import annotations

import logging
import sys

from .logs_hardening import quiet_secret_loggers

# what structlog imports at its own import but the server never uses (issue 18: idle RSS)
_ABSENT_FOR_STRUCTLOG = (
    # rich and pygments (~3-6 MB), only for its console tracebacks: the console renderer
    # prints plain tracebacks without them (see ``formatter``)
    "rich",
    # greenlet (~1 MB), only for the thread-local context of its deprecated
    # ``structlog.threadlocal`` (which then uses ``threading.local``), which the server does
    # not use. SQLAlchemy still imports greenlet for PostgreSQL (its asyncio engine)
    "structlog._greenlets",
)


def _import_structlog() -> None:
    """structlog imported with the modules of ``_ABSENT_FOR_STRUCTLOG`` marked absent; they
    stay importable for everything else."""
    if "structlog" in sys.modules or any(m in sys.modules for m in _ABSENT_FOR_STRUCTLOG):
        return
    for name in _ABSENT_FOR_STRUCTLOG:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401
    finally:
        for name in _ABSENT_FOR_STRUCTLOG:
            del sys.modules[name]


_import_structlog()
import structlog  # noqa: E402  (after _import_structlog, on purpose)

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
        # plain tracebacks (the stdlib's), without their frames' locals: a local may hold a
        # secret (the settings' admin key, a request's API key), and logs are read by more
        # people than the server. Not rich's: it highlights every frame's source with pygments,
        # ~0.1-1 s of CPU a traceback on the event loop, so during a database outage (every
        # loop failing each second) the server stopped answering, /healthz and /readyz too.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback,
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
