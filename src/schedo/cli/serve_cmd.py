"""``schedo serve``: the Typer command that starts the server (server/serve.py).

cli/fastpath.py runs it in a Typer app of its own (``serve_app``) so that a server process
does not import the other commands (rich, the management client, ...: issue 18, idle RSS);
``schedo serve --help`` goes through the full app as before.
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
    try:
        from ..server.config import Settings
        from ..server.serve import serve as run_server
    except ImportError as exc:
        typer.echo(
            f"schedo: the server needs the 'server' extra ({exc.name} is missing): "
            "pip install 'schedo[server]'",
            err=True,
        )
        raise typer.Exit(2) from None
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if db is not None:
        overrides["database_url"] = db
    if allow_private_webhooks:
        overrides["allow_private_webhooks"] = True
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except Exception as exc:  # pydantic ValidationError: bad SCHEDO_* value
        typer.echo(f"schedo: invalid setting: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(run_server(settings))


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
