"""The ``schedo`` command. Server code is imported only inside ``serve`` so that the other
commands work on an install without the server extra."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .app import app
    except ImportError as exc:  # typer/rich missing on an SDK-only install
        print(
            f"schedo: the command line needs the 'cli' extra ({exc.name} is missing): "
            "pip install 'schedo[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    app()
