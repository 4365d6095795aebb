"""Typer application: subcommands are registered here."""

from __future__ import annotations

from typing import Annotated

import typer

from .adminkey_cmd import register as register_admin_key
from .backup_cmd import register as register_backup
from .commands import register_all
from .cron_cmd import cron_app
from .secret_cmd import register as register_secret
from .user_cmd import register as register_user
from .worker_cmd import register as register_worker

app = typer.Typer(
    help="Schedo: a self-hostable cron-job service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cron_app, name="cron")
register_worker(app)
register_backup(app)
register_secret(app)
register_admin_key(app)
register_user(app)
register_all(app)


@app.command()
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
