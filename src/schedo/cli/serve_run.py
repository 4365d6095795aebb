"""``schedo serve`` without Typer (issue 18, idle server RSS): ``run_serve`` is the command's
body, called by the Typer command (serve_cmd.py: ``--help``, option errors) and by
cli/fastpath.py directly for a plain invocation, so a server process never imports typer.

Its messages and exit statuses are the command's: 2 for a missing server extra or an invalid
setting, else the server's own status.
"""

from __future__ import annotations

import sys


def run_serve(
    host: str | None = None,
    port: int | None = None,
    db: str | None = None,
    allow_private_webhooks: bool | None = None,
) -> int:
    """Run the API, the scheduler and the dashboard in one process: its exit status."""
    try:
        from ..server.config import Settings
        from ..server.serve import serve as run_server
    except ImportError as exc:
        print(
            f"schedo: the server needs the 'server' extra ({exc.name} is missing): "
            "pip install 'schedo[server]'",
            file=sys.stderr,
        )
        return 2
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
        print(f"schedo: invalid setting: {exc}", file=sys.stderr)
        return 2
    return run_server(settings)
