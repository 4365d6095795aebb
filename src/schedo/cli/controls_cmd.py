"""Scheduling controls on the command line (issue 20): ``schedo jobs skip JOB N``,
``schedo jobs backfill JOB --from I --to I``, ``schedo rerun RUN``, and the input helpers of
``jobs pause --until`` and ``jobs trigger --payload/--payload-file`` (those two commands live
in ``manage.py``).

``INSTANT`` is RFC 3339 with an offset (``2026-11-28T02:00:00Z``) or Unix seconds; it is
checked here (malformed or without offset: exit 2, nothing sent) and sent as RFC 3339 UTC.
What only the server knows (an instant in the past, a count above 1,000, too many backfill
instants, a run still pending) is its 4xx, printed as ``schedo: <message> (HTTP 400)``,
exit 1. Options, output and the other exit codes as in ``manage.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ..sdk.calls import Call
from ..sdk.client import Client
from ..sdk.models import Execution
from .support import (
    DEFAULT_URL,
    EXIT_USAGE,
    CliError,
    Connection,
    EnvOption,
    JsonOption,
    KeyOption,
    UrlOption,
    handled,
    print_json,
    resolve_job,
    when,
)

JobArg = Annotated[str, typer.Argument(metavar="JOB", help="Job id or job name.")]
EXISTING_SCAN = 2_000  # backfill: how many of the job's latest runs are read to name the
# instants that already had one

INSTANT_HELP = "RFC 3339 with offset (2026-11-28T02:00:00Z) or Unix seconds"
UntilOption = Annotated[str | None, typer.Option(
    "--until", metavar="INSTANT",
    help=f"Resume by itself at this instant ({INSTANT_HELP}); default: until resumed.")]
PayloadOption = Annotated[str | None, typer.Option(
    "--payload", metavar="JSON", help="A JSON object handed to the run (ctx.payload, "
    "$SCHEDO_PAYLOAD, the push body's payload); 64 KiB at most.")]
PayloadFileOption = Annotated[Path | None, typer.Option(
    "--payload-file", metavar="PATH", help="Read the payload JSON object from a file ('-': stdin).",
    allow_dash=True)]


def parse_instant(text: str, option: str) -> datetime:
    """An aware UTC datetime from ``INSTANT`` text; ``CliError`` (exit 2) otherwise."""
    raw = text.strip()
    try:
        if raw.isascii() and raw.lstrip("-").isdigit():
            value = datetime.fromtimestamp(int(raw), UTC)
        else:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise CliError(f"{option}: {text[:60]!r} is not an instant ({INSTANT_HELP})",
                       EXIT_USAGE) from None
    if value.tzinfo is None:
        raise CliError(f"{option}: give the instant with its offset (e.g. "
                       f"{raw}Z or {raw}+01:00)", EXIT_USAGE)
    return value.astimezone(UTC)


def instant_text(text: str, option: str) -> str:
    return parse_instant(text, option).isoformat().replace("+00:00", "Z")


def read_payload(payload: str | None, payload_file: Path | None) -> dict[str, Any] | None:
    """The ``--payload``/``--payload-file`` JSON object, or None; ``CliError`` (exit 2) for
    both given, an unreadable file, text that is not JSON, JSON that is not an object."""
    if payload is not None and payload_file is not None:
        raise CliError("give --payload or --payload-file, not both", EXIT_USAGE)
    if payload_file is not None:
        where = "--payload-file"
        try:
            text = (typer.get_text_stream("stdin").read() if str(payload_file) == "-"
                    else payload_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"--payload-file: cannot read {payload_file}: "
                           f"{getattr(exc, 'strerror', None) or exc}", EXIT_USAGE) from None
    elif payload is not None:
        where, text = "--payload", payload
    else:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{where}: not valid JSON: {exc.msg} (line {exc.lineno} column "
                       f"{exc.colno})", EXIT_USAGE) from None
    if not isinstance(value, dict):
        raise CliError(f"{where}: must be a JSON object ({{...}}), got {type(value).__name__}",
                       EXIT_USAGE)
    return value


# -- skip --------------------------------------------------------------------------------------


def skip(
    job: JobArg,
    count: Annotated[int, typer.Argument(
        metavar="N", help="How many of the next ticks to skip (0-1000; 0 cancels).")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Skip the job's next N scheduled runs (each is recorded as a skipped run)."""
    with handled(), Connection(url, key, env).client() as client:
        target = resolve_job(client, job)
        changed = client.skip_next(target.id, count)
    if as_json:
        print_json(changed.raw)
    elif count == 0:
        typer.echo(f"No runs of job {changed.name} (id {changed.id}) will be skipped")
    else:
        left = changed.raw.get("skip_next", count)
        typer.echo(f"Skipping the next {left} scheduled run{'s' if left != 1 else ''} of job "
                   f"{changed.name} (id {changed.id}); next run {when(changed.next_run_at)}")


# -- backfill ----------------------------------------------------------------------------------


def _raw(data: Any) -> dict[str, Any]:
    return dict(data)


def _existing(client: Client, job_id: int, start: datetime, end: datetime,
              created: set[int]) -> tuple[list[datetime], bool]:
    """Instants in [start, end] that had a run before the backfill (from the job's latest
    ``EXISTING_SCAN`` runs; the flag says whether the scan stopped there)."""
    found: set[datetime] = set()
    for n, e in enumerate(client.iter_executions(job_id), start=1):
        if n > EXISTING_SCAN:
            return sorted(found), True
        at = e.scheduled_for
        if e.id not in created and at is not None and start <= at.astimezone(UTC) <= end:
            found.add(at.astimezone(UTC))
    return sorted(found), False


def backfill(
    job: JobArg,
    start: Annotated[str, typer.Option("--from", metavar="INSTANT", help=f"First instant "
                                       f"({INSTANT_HELP}).")],
    end: Annotated[str, typer.Option("--to", metavar="INSTANT", help="Last instant, "
                                     "included (not in the future).")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create runs (trigger "backfill") for every instant of the job's schedule in
    [--from, --to] that has no run yet; at most 1,000 instants."""
    with handled():
        first, last = parse_instant(start, "--from"), parse_instant(end, "--to")
        with Connection(url, key, env).client() as client:
            target = resolve_job(client, job)
            body = {"from": instant_text(start, "--from"), "to": instant_text(end, "--to")}
            got = client.send(Call("POST", f"/jobs/{target.id}/backfill", _raw, body=body))
            if as_json:
                print_json(got)
                return
            runs = [Execution.from_json(e) for e in got["executions"]]
            existing: list[datetime] = []
            capped = False
            if got["instants"] > got["created"]:
                existing, capped = _existing(client, target.id, first, last,
                                             {e.id for e in runs})
    typer.echo(f"Backfilled job {target.name} (id {target.id}): {got['created']} run"
               f"{'s' if got['created'] != 1 else ''} created for {got['instants']} instant"
               f"{'s' if got['instants'] != 1 else ''} from {when(first)} to {when(last)}")
    for e in runs:
        typer.echo(f"  created run {e.id} for {when(e.scheduled_for)} ({e.status})")
    had = got["instants"] - got["created"]
    if had:
        typer.echo(f"  {had} instant{'s' if had != 1 else ''} already had a run:")
        for at in existing:
            typer.echo(f"  exists {when(at)}")
        if capped or len(existing) < had:
            typer.echo(f"  (only the job's latest {EXISTING_SCAN} runs were read; "
                       "see schedo runs JOB)" if capped else "  (see schedo runs JOB)")


# -- rerun -------------------------------------------------------------------------------------


def rerun(
    run: Annotated[int, typer.Argument(metavar="RUN", help="Run (execution) id.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a run's scheduled instant again, as its next attempt (trigger "rerun").
    Refused (exit 1, HTTP 409) while an attempt of that instant is pending or running."""
    with handled(), Connection(url, key, env).client() as client:
        e = client.rerun_execution(run)
    if as_json:
        print_json(e.raw)
    else:
        typer.echo(f"Rerun of run {run} of {e.job_code}: run {e.id} ({e.status}, attempt "
                   f"{e.attempt}, for {when(e.scheduled_for)})")


def register(jobs_app: typer.Typer, app: typer.Typer) -> None:
    """``jobs skip`` and ``jobs backfill`` on ``jobs_app``; ``rerun`` on ``app``."""
    jobs_app.command("skip")(skip)
    jobs_app.command("backfill")(backfill)
    app.command("rerun")(rerun)
