"""``schedo worker ...`` without the rest of the command line (issue 18: worker RSS ≤ 40 MB).

Building the Typer app imports every command's module (rich, the management client, ...) and
Typer coerces each option through a pydantic ``TypeAdapter`` (pydantic ~5 MB). A worker needs
none of it, so ``schedo.cli.main`` first offers the arguments to ``dispatch``: a plain
invocation it fully understands (the target and ``--concurrency/-c``, ``--url``, ``--key``,
``--env``, as ``--opt value`` or ``--opt=value``, the last of a repeated option winning as in
Typer) runs ``worker_run.run_worker`` directly. Anything else (``--help``, an unknown option,
a value that is not a positive whole number, a missing target, shell completion) returns
``None`` and the full Typer app handles it, so help and error messages stay Typer's own.

httpx imports its own command line (``httpx._main``: click, rich, pygments, ~6 MB) only to
offer ``httpx.main``; a worker process never calls it, so this path marks it absent before the
SDK imports httpx (``httpx.main`` then says that the ``httpx[cli]`` extra is missing).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

_OPTIONS = {"--concurrency": "concurrency", "-c": "concurrency", "--url": "url", "--key": "key",
            "--env": "env"}  # fmt: skip
_WHOLE = {"concurrency", "env"}  # options that take a whole number ≥ 1


def _number(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value >= 1 else None


def _take(name: str, value: str, into: dict[str, object]) -> bool:
    if value.startswith("-"):  # Typer would take it; leave the odd case to Typer
        return False
    if name in _WHOLE:
        number = _number(value)
        if number is None:
            return False
        into[name] = number
    else:
        into[name] = value
    return True


def parse_worker(args: Sequence[str]) -> dict[str, object] | None:
    """The ``run_worker`` arguments of ``schedo worker <args>``, or ``None`` when Typer should
    handle these arguments (help, anything unusual, anything wrong)."""
    out: dict[str, object] = {"concurrency": None, "url": None, "key": None, "env": None}
    target: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-"):
            flag, eq, value = arg.partition("=")
            name = _OPTIONS.get(flag)
            if name is None or (eq and flag == "-c"):
                return None
            if not eq:
                i += 1
                if i >= len(args):
                    return None
                value = args[i]
            if not _take(name, value, out):
                return None
        elif target is None:
            target = arg
        else:
            return None  # a second argument: Typer's "Got unexpected extra argument"
        i += 1
    if target is None:
        return None
    out["target"] = target
    return out


def dispatch(argv: Sequence[str]) -> int | None:
    """Run ``schedo worker`` here when ``argv`` (without the program name) is a plain worker
    invocation; its exit status, or ``None`` to let the full command line handle ``argv``."""
    if not argv or argv[0] != "worker" or "_SCHEDO_COMPLETE" in os.environ:
        return None
    parsed = parse_worker(argv[1:])
    if parsed is None:
        return None
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from .worker_run import WorkerExit, run_worker

    try:
        return run_worker(**parsed)  # type: ignore[arg-type]
    except WorkerExit as exc:
        return exc.code
