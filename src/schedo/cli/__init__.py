"""The ``schedo`` command. Its dependencies (typer, rich, cronsim) are part of the base
install, so every command but ``serve`` (and the database commands ``backup`` and
``reset-signature-keys``) runs without the server extra; server code is imported only
inside the commands that need it."""

from __future__ import annotations

import sys


def main() -> None:
    from .fastpath import dispatch

    code = dispatch(sys.argv[1:])  # ``schedo worker``: without the rest of the command line
    if code is not None:
        raise SystemExit(code)
    try:
        from .app import app
    except ImportError as exc:  # a broken install: typer/rich are base dependencies
        print(
            f"schedo: the command line cannot start ({exc.name or exc} is missing); "
            "reinstall it: pip install --force-reinstall schedo",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    app()
