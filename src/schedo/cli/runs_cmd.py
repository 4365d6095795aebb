"""``schedo runs JOB``: a job's run history, and ``--follow`` to watch new runs as they come.
Options, output and exit codes as in ``manage.py``."""

from __future__ import annotations

import json
import sys
import time
from itertools import islice
from typing import Annotated, Any

import typer
from rich.text import Text

from ..limits import PAGE_MAX
from ..sdk.client import Client
from ..sdk.errors import ConnectionFailed, ServerError
from ..sdk.models import Execution, Job, LogLine
from .support import (
    DEFAULT_URL,
    Cell,
    Connection,
    EnvOption,
    JsonOption,
    KeyOption,
    UrlOption,
    describe_error,
    duration,
    handled,
    print_json,
    print_line,
    print_table,
    resolve_job,
    shorten,
    status_cell,
    when,
)

JobArg = Annotated[str, typer.Argument(metavar="JOB", help="Job id or job name.")]
FOLLOW_INTERVAL = 1.0
FOLLOW_WINDOW = 50  # runs --follow watches the newest 50 runs (or --limit, if more)
RUNS_PAGE_MAX = PAGE_MAX  # the server's page limit for GET /jobs/executions/{id}

RUN_HEADERS = [
    "ID",
    "STATUS",
    "TRIGGER",
    "TRY",
    "SCHEDULED",
    "STARTED",
    "DURATION",
    "EXIT",
    "HOST",
    "WORKER",
    "ERROR",
]


def _run_row(e: Execution) -> list[Cell]:
    return [
        str(e.id),
        status_cell(e.status),
        e.trigger,
        str(e.attempt),
        when(e.scheduled_for),
        when(e.start_time or e.pick_up_time),
        duration(e.duration),
        "-" if e.exit_code is None else str(e.exit_code),
        shorten(e.target_host, 30) if e.target_host else "-",
        shorten(e.worker, 30) if e.worker else "-",
        shorten(e.error, 50),
    ]


# -- runs --------------------------------------------------------------------------------------


def runs(
    job: JobArg,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=10_000, help="How many runs to show.")
    ] = 20,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep polling (every second) and print new or changed runs."
        ),
    ] = False,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the latest runs of a job, newest first.

    With --follow, print them oldest first and then every new or changed run until Ctrl-C
    (exit 0).
    """
    with handled(), Connection(url, key, env).client() as client:
        target = resolve_job(client, job)
        window = min(max(limit, FOLLOW_WINDOW), RUNS_PAGE_MAX) if follow else limit
        fetched = _latest_runs(client, target.id, max(limit, window))
        latest = fetched[:limit]
        if not follow:
            if as_json:
                print_json([e.raw for e in latest])
            else:
                print_table(RUN_HEADERS, [_run_row(e) for e in latest], right=["ID", "TRY"])
            return
        try:
            _follow(client, target, latest, fetched, window, as_json)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None


def _latest_runs(client: Client, job_id: int, limit: int) -> list[Execution]:
    if limit <= RUNS_PAGE_MAX:
        return client.list_executions(job_id, limit=limit)
    return list(islice(client.iter_executions(job_id, page_size=RUNS_PAGE_MAX), limit))


def _state(e: Execution) -> tuple[Any, ...]:
    return (e.status, e.attempt, e.start_time, e.end_time, e.exit_code, e.error)


def _follow_line(e: Execution, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(e.raw, ensure_ascii=False, separators=(",", ":")))
        sys.stdout.flush()
        return
    stamp = when(e.end_time or e.start_time or e.pick_up_time or e.scheduled_for)
    parts: list[str | Text] = [
        f"{stamp}  run {e.id}  ",
        status_cell(e.status),
        f"  {e.trigger} attempt {e.attempt}",
    ]
    if e.duration is not None:
        parts.append(f"  {duration(e.duration)}")
    if e.exit_code is not None:
        parts.append(f"  exit {e.exit_code}")
    if e.worker and e.status == "running":
        parts.append(f"  on {e.worker}")
    if e.error:
        parts.append(f"  {shorten(e.error, 80)}")
    print_line(Text.assemble(*parts))
    sys.stdout.flush()


def _follow(
    client: Client,
    job: Job,
    latest: list[Execution],
    fetched: list[Execution],
    window: int,
    as_json: bool,
) -> None:
    """Print ``latest`` oldest first, then poll the newest ``window`` runs every second and
    print each run that is new or whose state changed (also runs older than those shown at
    the start: ``fetched`` holds their state). Transient failures (the server unreachable or
    answering 5xx) are reported once and polling goes on."""
    seen: dict[int, tuple[Any, ...]] = {e.id: _state(e) for e in fetched}
    for e in reversed(latest):
        _follow_line(e, as_json)
    failing = False
    while True:
        time.sleep(FOLLOW_INTERVAL)
        try:
            page = client.list_executions(job.id, limit=window)
        except (ConnectionFailed, ServerError) as exc:
            if not failing:
                typer.echo(f"schedo: {describe_error(exc)}; still trying", err=True)
            failing = True
            continue
        if failing:
            typer.echo("schedo: the server answers again", err=True)
            failing = False
        for e in sorted(page, key=lambda x: x.id):
            state = _state(e)
            if seen.get(e.id) != state:
                seen[e.id] = state
                _follow_line(e, as_json)




RunArg = Annotated[int, typer.Argument(metavar="RUN", min=1, help="Run (execution) id.")]


def cancel(
    run: RunArg,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the run's error).")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a pending or running run: it ends "cancelled" (no retry, no alert), and the
    worker or agent that holds it stops it. A run that already ended: exit 1 (409)."""
    with handled(), Connection(url, key, env).client() as client:
        e = client.cancel_execution(run, reason)
        if as_json:
            print_json(e.raw)
        else:
            held = f" (it was held by {e.worker})" if e.worker else ""
            typer.echo(f"Cancelled run {e.id} of {e.job_code}{held}")


LOG_POLL = 0.5  # seconds between two reads of a followed run's log


def _print_log_line(x: LogLine, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"id": x.id, "at": x.at.isoformat() if x.at else None,
                               "stream": x.stream, "line": x.line}, ensure_ascii=False))
    elif x.stream == "cut":
        typer.echo(x.line, err=True)
    else:
        typer.echo(x.line)
    sys.stdout.flush()


def log(
    run: RunArg,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the run ends.")
    ] = False,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print a run's live output (ctx.log lines, a command's output). With --follow, print
    new lines as they come until the run has ended (then one line on stderr says how), or
    Ctrl-C (exit 0)."""
    with handled(), Connection(url, key, env).client() as client:
        after = 0
        try:
            while True:
                page = client.read_log(run, after)
                for x in page.lines:
                    _print_log_line(x, as_json)
                after = page.next_after
                if len(page.lines) >= 1000:
                    continue
                ended = page.execution.status not in ("pending", "running")
                if not follow or ended:
                    if follow:
                        typer.echo(f"run {run} {page.execution.status}", err=True)
                    return
                time.sleep(LOG_POLL)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
