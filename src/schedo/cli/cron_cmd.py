"""``schedo cron next``: show what a schedule means, DST included.

The server's cron module (and so cronsim) is imported inside the command, so this module
loads on an SDK-only install; there the command explains that the server extra is needed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

if TYPE_CHECKING:
    from schedo.server.domain.cron import CronSchedule

cron_app = typer.Typer(help="Inspect cron expressions.", no_args_is_help=True)


@cron_app.callback()
def _group() -> None:
    """Inspect cron expressions."""  # keeps `next` a subcommand even while it is the only one


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _start(value: str | None, zone: str) -> datetime:
    """``--from``: ISO 8601; without an offset it is a wall time in ``zone``."""
    if value is None:
        return datetime.now(UTC)
    try:
        start = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _fail(f"--from: {value!r} is not an ISO 8601 date-time") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo(zone))  # zone was validated by parse()
    return start


def _utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@cron_app.command("next")
def next_command(
    expression: Annotated[
        str, typer.Argument(help='Cron expression, e.g. "0 2 * * *", "@daily", "@every 90s".')
    ],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone the expression is read in.")] = (
        "UTC"
    ),
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Start instant (ISO 8601; without an offset it is read in --tz). Default: now.",
        ),
    ] = None,
    count: Annotated[
        int, typer.Option("--count", min=1, max=1000, help="How many fire instants to show.")
    ] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    job: Annotated[
        str | None,
        typer.Option("--job", help="Job name: resolves H fields as the server does for it."),
    ] = None,
    environment: Annotated[
        int, typer.Option("--environment", help="Environment id of --job.", min=1)
    ] = 1,
) -> None:
    """Print a plain-English description and the next fire instants in UTC and local time."""
    try:
        from schedo.server.domain import hashed
        from schedo.server.domain.cron import CronError, parse
    except ImportError:
        raise _fail("the server extra is needed: pip install 'schedo[server]'") from None
    resolved = expression
    try:
        if hashed.uses_hash(expression):
            if job is None:
                raise _fail("H fields are resolved per job: pass --job NAME (and --environment"
                            " ID, default 1)")
            resolved = hashed.resolve(expression, hashed.seed_of(environment, job))
        schedule = parse(resolved, tz)
    except CronError as exc:
        raise _fail(str(exc)) from None
    start = _start(from_, tz)
    instants: list[datetime] = []
    try:  # a schedule that runs out (an @at, the year 9999) shows the instants it has left
        for t in schedule.iter_after(start):
            instants.append(t)
            if len(instants) == count:
                break
    except CronError as exc:
        if not instants:
            raise _fail(str(exc)) from None
    if as_json:
        _print_json(schedule, instants, expression)
    else:
        _print_table(schedule, instants, expression)


def _print_json(schedule: CronSchedule, instants: list[datetime], given: str) -> None:
    zone = ZoneInfo(schedule.timezone)
    document: dict[str, object] = {
        "expression": given.strip(),
        "timezone": schedule.timezone,
        "description": schedule.describe(),
        "next": [{"utc": _utc_text(t), "local": t.astimezone(zone).isoformat()} for t in instants],
    }
    if schedule.expression != given.strip():  # H fields resolved for --job
        document["resolved"] = schedule.expression
    typer.echo(json.dumps(document, indent=2))


def _print_table(schedule: CronSchedule, instants: list[datetime], given: str) -> None:
    from rich.console import Console
    from rich.table import Table

    zone = ZoneInfo(schedule.timezone)
    title = schedule.describe()
    if schedule.expression != given.strip():
        title = f"{given.strip()} -> {schedule.expression}: {title}"
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("UTC")
    table.add_column(f"local ({schedule.timezone})")
    for number, instant in enumerate(instants, start=1):
        local = instant.astimezone(zone)
        table.add_row(
            str(number),
            _utc_text(instant),
            f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({local:%z})",
        )
    Console().print(table)
