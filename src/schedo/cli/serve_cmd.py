"""``schedo serve``: the Typer command that starts the server (serve_run.py, then
server/serve.py).

cli/fastpath.py runs a plain invocation through ``serve_run.run_serve`` without Typer, and
anything else it does not understand but ``--help`` in a Typer app of its own
(``serve_app``), so that a server process does not import the other commands (rich, the
management client, ...: issue 18, idle RSS); ``schedo serve --help`` goes through the full app.
"""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8000]")] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL (SCHEDO_DATABASE_URL); default sqlite:///schedo.db"
        ),
    ] = None,
    allow_private_webhooks: Annotated[
        bool | None,
        typer.Option("--allow-private-webhooks", help="Allow push targets on private addresses"),
    ] = None,
) -> None:
    """Run the API, the scheduler and the dashboard in one process."""
    from .serve_run import run_serve

    raise typer.Exit(run_serve(host, port, db, allow_private_webhooks))


def register(app: typer.Typer) -> None:
    """Add ``schedo serve`` to ``app``."""
    app.command("serve")(serve)


def serve_app() -> typer.Typer:
    """A ``schedo`` app with ``serve`` as its only command (the same usage lines and option
    errors as the full app's ``schedo serve``)."""
    app = typer.Typer(
        help="Schedo: a self-hostable cron-job service.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def schedo() -> None:  # keeps ``serve`` a sub-command: ``schedo serve [OPTIONS]``
        """Schedo: a self-hostable cron-job service."""

    register(app)
    return app
