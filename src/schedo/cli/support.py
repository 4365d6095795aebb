"""Shared pieces of the client-side commands (``jobs``, ``runs``, ``env``, ``keys``, ``emails``,
``agent``, ``import-crontab``): connection options, exit codes, error lines and output.

Exit codes (the same for every command, see docs/cli.md):

====  =====================================================================================
0     success
1     the server refused the request (any 4xx not listed below, 409, 422, 429, or a 5xx)
2     usage error or bad input caught by the command line itself (unknown option, missing
      API key, unreadable file, a crontab line that cannot be parsed, ...)
3     not found (404, or a job name that matches no job)
4     authentication or permission error (401, 403)
5     the server cannot be reached (connection refused, reset or timed out)
====  =====================================================================================

Errors are one line on stderr, ``schedo: <message>``; never a traceback. Only the SDK
(``schedo.sdk``), typer and rich are imported here: these commands run without the server
extra.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..sdk.calls import DEFAULT_BASE_URL, VIA_HEADER
from ..sdk.client import Client
from ..sdk.errors import (
    ConfigurationError,
    ConnectionFailed,
    Forbidden,
    NotFound,
    SchedoError,
    Unauthorized,
)
from ..sdk.models import Job
from .exit_codes import EXIT_API as EXIT_API  # the exit codes, re-exported for every command
from .exit_codes import EXIT_AUTH as EXIT_AUTH
from .exit_codes import EXIT_NOT_FOUND as EXIT_NOT_FOUND
from .exit_codes import EXIT_OK as EXIT_OK
from .exit_codes import EXIT_UNREACHABLE as EXIT_UNREACHABLE
from .exit_codes import EXIT_USAGE as EXIT_USAGE
from .plain import CliError as CliError  # typer- and rich-free, re-exported
from .plain import describe_error as describe_error
from .plain import duration as duration
from .plain import shorten as shorten

# -- options shared by every command ------------------------------------------------------------

UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="SCHEDO_BASE_URL",
        help="Base URL of the Schedo server.",
        show_envvar=True,
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="SCHEDO_API_KEY",
        help="API key (sent as x-api-key).",
        show_envvar=True,
        show_default=False,
    ),
]
EnvOption = Annotated[
    int | None,
    typer.Option(
        "--env",
        envvar=["SCHEDO_ENVIRONMENT", "SCHEDO_ENVIRONMENT_ID"],
        min=1,
        help="Environment id (admin keys; sent as X-API-ENVIRONMENT).",
        show_envvar=True,
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the API objects as one JSON document.")
]
DEFAULT_URL = DEFAULT_BASE_URL


@dataclass(frozen=True, slots=True)
class Connection:
    """Where and as whom to talk to the server (the ``--url/--key/--env`` options)."""

    url: str
    key: str | None
    env: int | None

    def client(self, timeout: float = 30.0) -> Client:
        if not self.key:
            raise CliError("no API key: pass --key or set SCHEDO_API_KEY", EXIT_USAGE)
        client = Client(self.key, self.url, environment_id=self.env, timeout=timeout)
        client._http.headers[VIA_HEADER] = "cli"  # the server's audit log: "via cli"
        return client


def fail(message: str, code: int) -> NoReturn:
    """Print ``schedo: <message>`` on stderr and exit with ``code``."""
    typer.echo(f"schedo: {message}", err=True)
    raise typer.Exit(code)


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code of an SDK exception."""
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, ConfigurationError):
        return EXIT_USAGE
    if isinstance(exc, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, Unauthorized | Forbidden):
        return EXIT_AUTH
    if isinstance(exc, ConnectionFailed):
        return EXIT_UNREACHABLE
    return EXIT_API


@contextmanager
def handled() -> Iterator[None]:
    """Turn SDK errors and ``CliError`` into one stderr line and the documented exit code."""
    try:
        yield
    except (CliError, SchedoError) as exc:
        fail(describe_error(exc), exit_code_for(exc))


# -- output ------------------------------------------------------------------------------------

STATUS_STYLES = {
    "completed": "green",
    "failed": "bold red",
    "expired": "red",
    "running": "cyan",
    "pending": "yellow",
    "skipped": "dim",
    "cancelled": "magenta",
    "paused": "yellow",
    "muted": "magenta",
    "active": "green",
    "revoked": "red",
    "defined": "green",
    "dry-run": "cyan",
    "error": "bold red",
}

Cell = str | Text


def status_cell(status: str) -> Text:
    """A status word, coloured on a terminal (the word itself stays, so no meaning is lost
    without colour)."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def console() -> Console:
    """A console on the current stdout (created per call so test runners that swap stdout
    are honoured). Colour only on a terminal; rich also honours NO_COLOR."""
    return Console(highlight=False, soft_wrap=False)


def print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
    right: Sequence[str] = (),
) -> None:
    """A rich table on a terminal; plain space-aligned columns (one row per line, nothing
    truncated, no colour) when stdout is not a terminal, so that scripts can read it."""
    out = console()
    if out.is_terminal:
        table = Table(title=title, title_justify="left", header_style="bold")
        for h in headers:
            table.add_column(h, justify="right" if h in right else "left", overflow="fold")
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    text_rows = [[_plain(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    if title:
        lines.append(title)
    for row in [list(headers), *text_rows]:
        cells = [
            c.rjust(widths[i]) if headers[i] in right else c.ljust(widths[i])
            for i, c in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    typer.echo("\n".join(lines))


def print_fields(pairs: Sequence[tuple[str, Cell]], *, title: str | None = None) -> None:
    """Key/value lines (``jobs show``): a two-column grid on a terminal, ``key: value``
    lines otherwise."""
    out = console()
    if out.is_terminal:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for k, v in pairs:
            table.add_row(k, v)
        if title:
            out.print(Text(title, style="bold underline"))
        out.print(table)
        return
    width = max((len(k) for k, _ in pairs), default=0)
    lines = [title] if title else []
    lines += [f"{k + ':':<{width + 1}} {_plain(v)}".rstrip() for k, v in pairs]
    typer.echo("\n".join(lines))


def print_line(text: Cell) -> None:
    """One line of (possibly styled) text; colour only on a terminal."""
    console().print(text, overflow="ignore", crop=False)


def _plain(cell: Cell) -> str:
    text = cell.plain if isinstance(cell, Text) else cell
    return " ".join(text.splitlines())


def when(value: datetime | None) -> str:
    """A UTC instant as ``2026-11-28 12:00:05Z``; ``-`` for none."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def resolve_job(client: Client, ref: str) -> Job:
    """The job named by ``ref``: an id (tried first when numeric) or a name."""
    text = ref.strip()
    if not text:
        raise CliError("JOB: give a job id or a job name", EXIT_USAGE)
    if text.isascii() and text.isdigit() and 0 < int(text) < 2**63:
        try:
            return client.get_job(int(text)).job
        except NotFound:
            pass
    for job in client.list_jobs():
        if job.name == text or job.key == text:
            return job
    raise CliError(f"no job with id or name {text!r}", EXIT_NOT_FOUND)
