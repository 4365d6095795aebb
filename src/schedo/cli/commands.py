"""One call that adds every client-side command (``jobs``, ``runs``, ``env``, ``keys``,
``emails``, ``channels``, ``agent``, ``import-crontab``) to the ``schedo`` Typer app."""

from __future__ import annotations

import typer

from . import agent_cmd, channels_cmd, crontab, explain_cmd, manage, webhook_secret_cmd


def register_all(app: typer.Typer) -> None:
    manage.register(app)
    agent_cmd.register(app)
    crontab.register(app)
    explain_cmd.register(app)
    channels_cmd.register(app)
    webhook_secret_cmd.register(app)
