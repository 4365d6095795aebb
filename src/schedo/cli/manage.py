"""Management commands: ``schedo jobs …``, ``schedo runs JOB`` (in ``runs_cmd.py``),
``schedo env …``, ``schedo keys …`` and ``schedo emails …`` (the last three in ``admin.py``).

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
from typing import Annotated

import typer
from rich.text import Text

from ..sdk.models import Job
from . import admin, controls_cmd, runs_cmd
from .controls_cmd import PayloadFileOption, PayloadOption, UntilOption, read_payload
from .support import (
    DEFAULT_URL,
    EXIT_API,
    EXIT_USAGE,
    Cell,
    CliError,
    Connection,
    EnvOption,
    JsonOption,
    KeyOption,
    UrlOption,
    handled,
    print_fields,
    print_json,
    print_table,
    resolve_job,
    shorten,
    status_cell,
    when,
)

JobArg = Annotated[str, typer.Argument(metavar="JOB", help="Job id or job name.")]


# -- helpers -----------------------------------------------------------------------------------


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
        for field, label in (("paused_reason", "paused reason"), ("ping_uuid", "ping uuid"),
                             ("grace_seconds", "grace (s)")):
            if j.raw.get(field) is not None:  # issue 19 fields, shown when set
                pairs.append((label, str(j.raw[field])))
        if j.webhook_url:
            pairs.append(("webhook url", j.webhook_url))
        if j.command is not None:
            pairs.append(("command", j.command))
            t = j.target or {}
            where = (f"host {t['host']}" if "host" in t else
                     f"agents with tags {', '.join(t.get('tags') or [])}" if t else "any agent")
            pairs.append(("runs on", where))
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
                        f" on {last.worker}" if last.worker else "",
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
    payload: PayloadOption = None,
    payload_file: PayloadFileOption = None,
) -> None:
    """Start a run of the job now (trigger "manual"), with an optional JSON payload."""
    with handled():
        data = read_payload(payload, payload_file)  # bad JSON: exit 2, nothing sent
        client = Connection(url, key, env).client()
    with handled(), client:
        target = resolve_job(client, job)
        run = client.trigger_job(target.id, data)
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
    until: UntilOption = None,
) -> None:
    """Pause the job: no new runs until it is resumed (or, with --until, until then)."""
    with handled():
        at = None if until is None else controls_cmd.instant_text(until, "--until")
        client = Connection(url, key, env).client()
    with handled(), client:
        changed = client.pause_job(resolve_job(client, job).id, at)
        if at is not None and not as_json:
            resumes = controls_cmd.parse_instant(changed.raw.get("paused_until") or at, "until")
            typer.echo(f"Paused job {changed.name} (id {changed.id}) until {when(resumes)}")
            return
        _print_job_change(changed, "Paused", as_json)


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


def register(app: typer.Typer) -> None:
    """Add ``jobs``, ``runs``, ``env``, ``keys`` and ``emails`` to ``app``."""
    controls_cmd.register(jobs_app, app)
    app.add_typer(jobs_app, name="jobs")
    app.command("runs")(runs_cmd.runs)
    app.command("cancel")(runs_cmd.cancel)
    app.command("log")(runs_cmd.log)
    admin.register(app)
