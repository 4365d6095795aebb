"""Management commands: ``schedo jobs …``, ``schedo runs JOB``, ``schedo env …``,
``schedo keys …`` and ``schedo emails …`` (the last three live in ``admin.py``).

Every server call goes through ``schedo.Client``. Every command takes ``--url``
(``SCHEDO_BASE_URL``, default http://127.0.0.1:8000), ``--key`` (``SCHEDO_API_KEY``), ``--env``
(environment id for admin keys, ``SCHEDO_ENVIRONMENT``) and ``--json`` (the API objects as
one JSON document; ``runs --follow --json`` prints one JSON object per line instead).

Output is a rich table with coloured statuses on a terminal and plain space-aligned columns
otherwise (statuses are always written as words, so nothing depends on colour).

``JOB`` is a job id or a job name. A number is tried as an id first, then as a name.

Exit codes, which scripts can rely on:

- 0: success
- 1: the server refused the request (4xx other than 401/403/404, or a 5xx)
- 2: usage error or bad input (unknown option, missing API key, ``rm`` without ``--yes``
  when stdin is not a terminal)
- 3: not found (unknown job id or name, unknown key or environment id)
- 4: authentication or permission error (401, 403)
- 5: the server cannot be reached

Errors are one line on stderr: ``schedo: <message>``.
"""

from __future__ import annotations

import json
import sys
import time
from itertools import islice
from typing import Annotated, Any

import typer
from rich.text import Text

from ..sdk.client import Client
from ..sdk.errors import ConnectionFailed, NotFound, ServerError
from ..sdk.models import Execution, Job
from . import admin
from .support import (
    DEFAULT_URL,
    EXIT_API,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Cell,
    CliError,
    Connection,
    EnvOption,
    JsonOption,
    KeyOption,
    UrlOption,
    describe_error,
    duration,
    handled,
    print_fields,
    print_json,
    print_line,
    print_table,
    shorten,
    status_cell,
    when,
)

JobArg = Annotated[str, typer.Argument(metavar="JOB", help="Job id or job name.")]
FOLLOW_INTERVAL = 1.0
FOLLOW_WINDOW = 50  # runs --follow watches the newest 50 runs (or --limit, if more)
RUNS_PAGE_MAX = 200  # the server's page limit for GET /jobs/executions/{id}


# -- helpers -----------------------------------------------------------------------------------


def resolve_job(client: Client, ref: str) -> Job:
    """The job named by ``ref``: an id (tried first when numeric) or a name."""
    text = ref.strip()
    if not text:
        raise CliError("JOB: give a job id or a job name", EXIT_USAGE)
    if text.isdigit() and 0 < int(text) < 2**63:
        try:
            return client.get_job(int(text)).job
        except NotFound:
            pass
    for job in client.list_jobs():
        if job.name == text or job.key == text:
            return job
    raise CliError(f"no job with id or name {text!r}", EXIT_NOT_FOUND)


def _job_flags(job: Job) -> str:
    flags = [f for f, on in (("paused", job.paused), ("muted", job.muted)) if on]
    return ",".join(flags) or "-"


def _schedule(job: Job) -> str:
    if job.timezone and job.timezone != "UTC":
        return f"{job.cron_expression} ({job.timezone})"
    return job.cron_expression


def _job_rows(jobs: list[Job]) -> list[list[Cell]]:
    return [
        [
            str(j.id),
            j.name,
            j.type,
            _schedule(j),
            status_cell(j.status),
            _job_flags(j),
            when(j.next_run_at),
            when(j.last_run_at),
        ]
        for j in jobs
    ]


JOB_HEADERS = ["ID", "NAME", "TYPE", "SCHEDULE", "STATUS", "FLAGS", "NEXT RUN", "LAST RUN"]
RUN_HEADERS = [
    "ID",
    "STATUS",
    "TRIGGER",
    "TRY",
    "SCHEDULED",
    "STARTED",
    "DURATION",
    "EXIT",
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
        shorten(e.error, 50),
    ]


# -- jobs --------------------------------------------------------------------------------------

jobs_app = typer.Typer(help="List and manage jobs.", no_args_is_help=True)


@jobs_app.command("ls")
def jobs_ls(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the jobs of the environment."""
    with handled(), Connection(url, key, env).client() as client:
        jobs = sorted(client.list_jobs(), key=lambda j: j.id)
        if as_json:
            print_json([j.raw for j in jobs])
        else:
            print_table(JOB_HEADERS, _job_rows(jobs), right=["ID"])


@jobs_app.command("show")
def jobs_show(
    job: JobArg,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one job: its definition, its state and its last run."""
    with handled(), Connection(url, key, env).client() as client:
        detail = client.get_job(resolve_job(client, job).id)
        if as_json:
            print_json(
                {
                    "connections_count": detail.connections_count,
                    "job": detail.job.raw,
                    "last_run": detail.last_run.raw if detail.last_run else None,
                }
            )
            return
        j, last = detail.job, detail.last_run
        pairs: list[tuple[str, Cell]] = [
            ("id", str(j.id)),
            ("name", j.name),
            ("type", j.type),
            ("schedule", j.cron_expression),
            ("timezone", j.timezone),
            ("status", status_cell(j.status)),
            ("paused", "yes" if j.paused else "no"),
            ("muted", "yes" if j.muted else "no"),
            ("blocking", "yes" if j.blocking else "no"),
            ("timeout", f"{j.timeout_seconds}s"),
            ("max retries", str(j.max_retries)),
            ("retry count", str(j.retry_count)),
            ("catch up", j.catch_up),
        ]
        if j.webhook_url:
            pairs.append(("webhook url", j.webhook_url))
        if j.command is not None:
            pairs.append(("command", j.command))
        if j.metadata:
            pairs.append(("metadata", json.dumps(j.metadata, ensure_ascii=False)))
        pairs += [
            ("connections", str(detail.connections_count)),
            ("next run", when(j.next_run_at)),
            ("last run at", when(j.last_run_at)),
            ("created", when(j.created_at)),
            ("updated", when(j.updated_at)),
        ]
        if last is not None:
            pairs.append(
                (
                    "last run",
                    Text.assemble(
                        f"#{last.id} ",
                        status_cell(last.status),
                        f" ({last.trigger}, attempt {last.attempt})",
                    ),
                )
            )
            if last.error:
                pairs.append(("last error", shorten(last.error, 200)))
        print_fields(pairs)


def _print_job_change(job: Job, verb: str, as_json: bool) -> None:
    if as_json:
        print_json(job.raw)
    else:
        typer.echo(f"{verb} job {job.name} (id {job.id})")


@jobs_app.command("trigger")
def jobs_trigger(
    job: JobArg,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a run of the job now (trigger "manual")."""
    with handled(), Connection(url, key, env).client() as client:
        target = resolve_job(client, job)
        run = client.trigger_job(target.id)
        if as_json:
            print_json(run.raw)
        else:
            typer.echo(f"Triggered job {target.name} (id {target.id}): run {run.id} ({run.status})")


@jobs_app.command("pause")
def jobs_pause(
    job: JobArg,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pause the job: no new runs until it is resumed."""
    with handled(), Connection(url, key, env).client() as client:
        _print_job_change(client.pause_job(resolve_job(client, job).id), "Paused", as_json)


@jobs_app.command("resume")
def jobs_resume(
    job: JobArg,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resume a paused job (its next run is computed from now)."""
    with handled(), Connection(url, key, env).client() as client:
        _print_job_change(client.resume_job(resolve_job(client, job).id), "Resumed", as_json)


@jobs_app.command("mute")
def jobs_mute(
    job: JobArg,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Mute the job: it sends no failure or recovery mail."""
    with handled(), Connection(url, key, env).client() as client:
        _print_job_change(client.mute_job(resolve_job(client, job).id, True), "Muted", as_json)


@jobs_app.command("unmute")
def jobs_unmute(
    job: JobArg,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Unmute the job."""
    with handled(), Connection(url, key, env).client() as client:
        changed = client.mute_job(resolve_job(client, job).id, False)
        _print_job_change(changed, "Unmuted", as_json)


@jobs_app.command("rm")
def jobs_rm(
    job: JobArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = (
        False
    ),
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete the job and its run history.

    Asks first unless --yes; without a terminal on stdin, --yes is required.
    """
    with handled(), Connection(url, key, env).client() as client:
        target = resolve_job(client, job)
        if not yes:
            if not sys.stdin.isatty():
                raise CliError(
                    f"refusing to delete job {target.name} without confirmation: pass --yes",
                    EXIT_USAGE,
                )
            if not typer.confirm(f"Delete job {target.name} (id {target.id}) and its history?"):
                raise CliError("not deleted", EXIT_API)
        client.delete_job(target.id)
        if as_json:
            print_json({"deleted": True, "job": target.raw})
        else:
            typer.echo(f"Deleted job {target.name} (id {target.id})")


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


def register(app: typer.Typer) -> None:
    """Add ``jobs``, ``runs``, ``env``, ``keys`` and ``emails`` to ``app``."""
    app.add_typer(jobs_app, name="jobs")
    app.command("runs")(runs)
    admin.register(app)
