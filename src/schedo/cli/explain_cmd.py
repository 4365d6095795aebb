"""``schedo explain JOB --at INSTANT``: whether the job's schedule fires at an instant and
what happened or will happen there (``GET /jobs/{id}/explain``). Options, output and exit
codes as in ``manage.py``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..sdk.calls import Call
from .support import (
    DEFAULT_URL,
    Connection,
    EnvOption,
    JsonOption,
    KeyOption,
    UrlOption,
    handled,
    print_json,
    resolve_job,
)


def _raw(data: Any) -> dict[str, Any]:
    return dict(data)


def explain(
    job: Annotated[str, typer.Argument(metavar="JOB", help="Job id or job name.")],
    at: Annotated[str | None, typer.Option(
        "--at", help="The instant: RFC 3339 with offset (2026-11-28T02:00:00Z) or Unix "
                     "seconds; default now.")] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Explain why a job ran or did not run (or will or will not run) at an instant."""
    with handled(), Connection(url, key, env).client() as client:
        target = resolve_job(client, job)
        params = {"at": at} if at is not None else None
        got = client.send(Call("GET", f"/jobs/{target.id}/explain", _raw, params=params))
    if as_json:
        print_json(got)
        return
    fires = "yes" if got["fires"] else f"no (next: {got['next_fire']})"
    typer.echo(f"{target.name} at {got['at']} (local {got['local_time']})")
    typer.echo(f"  schedule fires: {fires}")
    if got.get("dst_note"):
        typer.echo(f"  DST: {got['dst_note']}")
    typer.echo(f"  {got['verdict']}: {got['message']}")
    for e in got["executions"]:
        extra = f" - {e['error']}" if e.get("error") else ""
        typer.echo(f"    execution {e['id']} attempt {e['attempt']} {e['status']}{extra}")


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
