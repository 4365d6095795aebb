"""``schedo import-crontab``: the command. How crontab lines are read and what each becomes is
in ``crontab_parse.py`` (and docs/cli.md); this module defines the jobs and prints the result.

Exit codes: 0 everything defined; 2 some lines could not be parsed (the others are still
defined) or bad options; 1 the server refused some definitions.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..limits import TIMEOUT_MAX
from ..sdk.client import Client
from ..sdk.errors import ApiError, Forbidden, NotFound, Unauthorized
from .crontab_names import NAME_FROM, name_entries
from .crontab_parse import (
    PREFIX,
    USER_KEY,
    Entry,
    is_system_path,
    local_zone,
    parse,
    user_column,
    valid_zone,
)
from .support import (
    DEFAULT_URL,
    EXIT_API,
    EXIT_OK,
    EXIT_USAGE,
    Cell,
    CliError,
    Connection,
    EnvOption,
    JsonOption,
    KeyOption,
    UrlOption,
    describe_error,
    handled,
    print_json,
    print_table,
    shorten,
    status_cell,
)

# -- validation without a server (--dry-run) ---------------------------------------------------


def _check_schedules(entries: list[Entry]) -> None:
    """Check the expressions with the server's cron module when it is installed."""
    try:
        from ..server.domain.cron import CronError
        from ..server.domain.cron import parse as parse_cron
    except ImportError:
        return
    for e in entries:
        if e.status != "job" or e.schedule is None:
            continue
        try:
            parse_cron(e.schedule, e.timezone or "UTC")
        except CronError as exc:
            e.status = "error"
            e.error = str(exc)


# -- defining ----------------------------------------------------------------------------------


def define(
    client: Client, entries: list[Entry], timeout: int, catch_up: str, paused: bool = False,
    target: dict[str, str] | None = None,
) -> None:
    """Define every entry to define; with ``paused``, pause each job right after its
    definition (the API defines no job paused in one call: a run due in between is
    reported as a warning). ``target``: where the jobs run (``{"host": ...}``)."""
    for e in entries:
        if e.status != "job":
            continue
        assert e.name and e.schedule and e.command
        metadata = {USER_KEY: e.user} if e.user is not None else None
        try:
            job = client.define_job(
                e.name, e.schedule, command=e.command, timezone=e.timezone,
                timeout_seconds=timeout, catch_up=catch_up, metadata=metadata, target=target,
            )  # fmt: skip
            if paused and not job.paused:
                last_run = job.last_run_at
                job = client.pause_job(job.id)
                if job.last_run_at is not None and job.last_run_at != last_run:
                    e.warnings.append(
                        "a run became due before the pause took effect: see schedo runs "
                        + e.name
                    )
        except (Unauthorized, Forbidden, NotFound):
            raise
        except ApiError as exc:
            e.status = "error"
            e.error = describe_error(exc)
            e.refused = True
            continue
        e.status = "defined"
        e.job = job.raw


def _result(e: Entry) -> Cell:
    from rich.text import Text

    notes = [e.error] if e.error else e.warnings
    return Text.assemble(status_cell(e.status), (": " + "; ".join(notes)) if notes else "")


def _print(entries: list[Entry], dry_run: bool, zone: str, system: bool, paused: bool) -> None:
    def schedule(e: Entry) -> str:
        if e.schedule is None:
            return "-"
        return e.schedule if e.timezone in (None, zone) else f"{e.schedule} ({e.timezone})"

    rows: list[list[Cell]] = [
        [
            str(e.line),
            e.name or "-",
            schedule(e),
            shorten(e.raw_command or e.source, 70),
            _result(e),
        ]
        for e in entries
    ]
    print_table(["LINE", "NAME", "SCHEDULE", "COMMAND", "RESULT"], rows, right=["LINE"])
    jobs = sum(e.status in ("defined", "dry-run") for e in entries)
    skipped = sum(e.status == "skipped" for e in entries)
    errors = sum(e.status == "error" for e in entries)
    verb = "would be defined" if dry_run else "defined"
    if paused:
        verb += " paused"
    if dry_run:
        verb += " (dry run)"
    note = "; system crontab format: the sixth field is the user" if system else ""
    typer.echo(f"{jobs} job(s) {verb}, {skipped} line(s) skipped, {errors} error(s){note}")


def _read(path: str) -> str:
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror or exc}", EXIT_USAGE) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{path}: not UTF-8 text", EXIT_USAGE) from None


def import_crontab(
    file: Annotated[str, typer.Argument(metavar="FILE", help="Crontab file ('-' for stdin).")],
    prefix: Annotated[
        str, typer.Option("--prefix", help="Job names start with this and a dash.")
    ] = "cron",
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone", help="IANA zone the schedules are read in [default: this machine's]."
        ),
    ] = None,
    system: Annotated[
        bool | None,
        typer.Option(
            "--system/--user",
            help="--system: a user field after the times (/etc/crontab format); --user: no "
            "user field [default: --system for /etc/crontab and /etc/cron.d/*, else --user; "
            "a user name in the sixth field stops the import].",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="The host whose agent runs the jobs (their target) "
                     "[default: this host]."),
    ] = None,
    any_agent: Annotated[
        bool, typer.Option("--any-agent", help="No target: any agent may run the jobs.")
    ] = False,
    paused: Annotated[
        bool,
        typer.Option("--paused", help="Define the jobs paused (while the old crontab still runs)."),
    ] = False,
    timeout: Annotated[
        int,
        typer.Option("--timeout", min=1, max=TIMEOUT_MAX, help="timeout_seconds of every job."),
    ] = 3600,
    catch_up: Annotated[
        str,
        typer.Option("--catch-up", help="Missed runs after downtime: none, latest or all."),
    ] = "none",
    name_from: Annotated[
        str,
        typer.Option(
            "--name-from",
            help="Job names from: script (the script's base name, e.g. cron-pg-backup), "
            "command (slug of the whole command and a hash: the earlier names) or hash.",
        ),
    ] = "script",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show what would be defined.")
    ] = False,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Define one command job per crontab entry (run them with `schedo agent`)."""
    with handled():
        if not PREFIX.match(prefix):
            raise CliError(
                "--prefix: 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
                EXIT_USAGE,
            )
        if catch_up not in ("none", "latest", "all"):
            raise CliError("--catch-up: must be none, latest or all", EXIT_USAGE)
        if name_from not in NAME_FROM:
            raise CliError("--name-from: must be script, command or hash", EXIT_USAGE)
        zone = timezone if timezone is not None else local_zone()
        if not valid_zone(zone):
            raise CliError(f"--timezone: unknown time zone {zone!r}", EXIT_USAGE)
        text = _read(file)
        is_system = is_system_path(file) if system is None else system
        entries = parse(text, timezone=zone, system=is_system)
        if system is None and not is_system:
            suspect = user_column(entries)
            if suspect is not None:
                word = (suspect.raw_command or "").split(None, 1)[0]
                where = "stdin" if file == "-" else file
                raise CliError(
                    f"{where}: line {suspect.line} starts its command with {word!r}, a user "
                    "name: is this a system crontab (the /etc/crontab format, with a user "
                    "field)? Pass --system to read that field as the user, or --user to "
                    "keep it as part of the command; nothing was defined",
                    EXIT_USAGE,
                )
        target = None if any_agent else {"host": host or socket.gethostname()}
        if dry_run:  # offline: names as a first import gives them
            name_entries(entries, prefix, name_from)
            _check_schedules(entries)
            for e in entries:
                if e.status == "job":
                    e.status = "dry-run"
        else:
            with Connection(url, key, env).client() as client:
                existing = frozenset(j.name for j in client.list_jobs())
                name_entries(entries, prefix, name_from, existing)
                define(client, entries, timeout, catch_up, paused, target)
        if as_json:
            print_json(
                {
                    "dry_run": dry_run,
                    "timezone": zone,
                    "format": "system" if is_system else "user",
                    "paused": paused,
                    "name_from": name_from,
                    "target": target,
                    "entries": [e.to_json() for e in entries],
                }
            )
        else:
            _print(entries, dry_run, zone, is_system, paused)
    if any(e.status == "error" and not e.refused for e in entries):
        raise typer.Exit(EXIT_USAGE)
    if any(e.status == "error" for e in entries):
        raise typer.Exit(EXIT_API)
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add ``schedo import-crontab`` to ``app``."""
    app.command("import-crontab")(import_crontab)
