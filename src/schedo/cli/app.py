"""Typer application: subcommands are registered here."""

from __future__ import annotations

import typer

from .adminkey_cmd import register as register_admin_key
from .backup_cmd import register as register_backup
from .commands import register_all
from .cron_cmd import cron_app
from .secret_cmd import register as register_secret
from .serve_cmd import register as register_serve
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
register_serve(app)
