"""The exit codes of every ``schedo`` command (docs/cli.md), in a module of their own so that
the ``worker`` path (cli/fastpath.py) can use them without importing typer or rich."""

from __future__ import annotations

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AUTH = 4
EXIT_UNREACHABLE = 5
