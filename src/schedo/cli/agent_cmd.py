"""``schedo agent``: the Typer command (its options, ``--help``); the agent itself is
agent.py (``run_agent``), which cli/fastpath.py also runs directly for a plain invocation."""

from __future__ import annotations

from typing import Annotated

import typer

from .agent import SHUTDOWN_GRACE, run_agent
from .plain import CliError
from .support import DEFAULT_URL, EnvOption, KeyOption, UrlOption, fail


def agent(
    jobs: Annotated[
        str | None,
        typer.Option(
            "--jobs", help="Comma-separated job names to run (default: every command job)."
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=100, help="Commands run at once.")
    ] = 4,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0,
            max=3600,
            help="Seconds to let running commands finish on SIGTERM/SIGINT.",
        ),
    ] = SHUTDOWN_GRACE,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="A tag this agent announces (repeat: --tag db --tag eu); "
                     "it takes runs of jobs whose target names only tags it has."),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="The host name it announces [default: this host's]."),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
) -> None:
    """Run command jobs: pull their runs and execute them with /bin/sh.

    Exits 0 after SIGTERM/SIGINT once running commands finished and were reported.
    """
    try:
        code = run_agent(jobs, concurrency, grace, tag, host, url, key, env)
    except CliError as exc:  # e.g. a name of --jobs that is not a command job
        fail(exc.message, exc.code)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``schedo agent`` to ``app``."""
    app.command("agent")(agent)
