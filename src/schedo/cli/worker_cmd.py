"""``schedo worker module:app``: run the workers of a Python app.

``module:app`` imports ``module`` (the current folder is on ``sys.path``) and takes its
attribute ``app``; ``path/to/file.py:app`` loads that file (its folder goes on ``sys.path``
so that it can import its neighbours). Without ``:attr`` the attribute ``app`` is used. A
missing module or attribute, or an attribute that is not a ``schedo.Schedo``, is one line on
stderr and exit status 2. Only the SDK is imported: this runs on an install without the
server extra.

``--url/--key/--env`` win over the app's own ``Schedo(base_url=, api_key=,
environment_id=)``, which win over ``SCHEDO_BASE_URL`` / ``SCHEDO_API_KEY`` /
``SCHEDO_ENVIRONMENT_ID`` (or ``SCHEDO_ENVIRONMENT``, as for the other commands). A key the
server refuses (401/403) is one line, ``the server refused the API key: ...``, and exit 4
(docs/cli.md has the whole table).
"""

from __future__ import annotations

from typing import Annotated

import typer

from .support import DEFAULT_URL
from .worker_run import TargetError, WorkerExit, load_app, run_worker

__all__ = ["TargetError", "load_app", "register", "worker"]


def worker(
    target: Annotated[
        str,
        typer.Argument(
            help="The app to run: module:app or path/to/file.py:app (default attribute: app)."
        ),
    ],
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Handlers running at once (default: the app's, 10 unless it says otherwise).",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Base URL of the Schedo server (default: the app's base_url, else "
            f"SCHEDO_BASE_URL, else {DEFAULT_URL}).",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="API key, sent as x-api-key (default: the app's api_key, else SCHEDO_API_KEY).",
            show_default=False,
        ),
    ] = None,
    env: Annotated[
        int | None,
        typer.Option(
            "--env",
            min=1,
            help="Environment id for an admin key, sent as X-API-ENVIRONMENT (default: the "
            "app's environment_id, else SCHEDO_ENVIRONMENT_ID or SCHEDO_ENVIRONMENT).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the jobs of a Schedo app: define them, then pull and run their executions until
    SIGTERM/SIGINT (graceful: running handlers finish and are reported; a second signal
    gives up on them at once).

    Exit status: 0 after a clean shutdown; 1 when the server refused a definition or some
    results could not be reported; 2 a target that cannot be loaded, a bad definition, no
    API key, a bad option; 4 the key was refused (401/403). An unreachable server never
    ends the worker: it retries.
    """
    try:
        code = run_worker(target, concurrency, url, key, env)
    except WorkerExit as exc:
        raise typer.Exit(exc.code) from None
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command to the ``schedo`` Typer app."""
    app.command("worker")(worker)
