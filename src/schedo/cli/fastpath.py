"""``schedo worker``, ``schedo agent`` and ``schedo serve`` without the rest of the command
line (issue 18: worker RSS ≤ 40 MB, idle server RSS).

Building the Typer app imports every command's module (rich, the management client, ...) and
Typer coerces each option through a pydantic ``TypeAdapter`` (pydantic ~5 MB). A worker or
an agent needs none of it, so ``schedo.cli.main`` first offers the arguments to ``dispatch``:
an invocation it fully understands (the command's own options as ``--opt value`` or
``--opt=value``, whole numbers as plain digits inside the option's range, the last of a
repeated option winning and ``--tag`` adding up, as in Typer; the agent's ``SCHEDO_*``
variables read as Typer reads them) runs ``worker_run.run_worker`` or ``agent.run_agent``
directly. Anything else (``--help``, an unknown option, a value out of range or not a plain
number, a missing or extra argument, shell completion) returns ``None`` and the full Typer
app handles it, so help and error messages stay Typer's own.

``schedo serve`` runs ``serve_run.run_serve`` directly for an invocation it understands (its
four options, ``--allow-private-webhooks`` as a flag), so a server process never imports typer
(~1 MB); anything else but ``--help`` runs the same Typer command in an app with no other
command (serve_cmd.serve_app), ``--help`` goes to the full app.

httpx imports its own command line (``httpx._main``: click, rich, pygments, ~6 MB) only to
offer ``httpx.main``; none of these processes calls it, so this path marks it absent before the
SDK imports httpx (``httpx.main`` then says that the ``httpx[cli]`` extra is missing).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

_WHOLE = re.compile(r"[1-9][0-9]{0,8}")
_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,3})(\.[0-9]{1,3})?")


def _whole(low: int, high: int | None) -> Callable[[str], object]:
    def parse(text: str) -> object:
        if not _WHOLE.fullmatch(text):
            return None
        value = int(text)
        return value if value >= low and (high is None or value <= high) else None

    return parse


def _seconds(text: str) -> object:
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if 0 <= value <= 3600 else None


def _text(text: str) -> object:
    return text


@dataclass(frozen=True)
class _Spec:
    options: dict[str, tuple[str, Callable[[str], object]]]  # flag -> (parameter, parse)
    defaults: dict[str, object]
    target: bool  # takes one positional argument (``target``)
    lists: frozenset[str] = frozenset()
    flags: dict[str, str] | None = None  # flag -> parameter set to True (takes no value)


_WORKER = _Spec(
    {"--concurrency": ("concurrency", _whole(1, None)), "-c": ("concurrency", _whole(1, None)),
     "--url": ("url", _text), "--key": ("key", _text), "--env": ("env", _whole(1, None))},
    {"concurrency": None, "url": None, "key": None, "env": None},
    target=True,
)  # fmt: skip
_AGENT = _Spec(
    {"--jobs": ("jobs", _text), "--concurrency": ("concurrency", _whole(1, 100)),
     "-c": ("concurrency", _whole(1, 100)), "--grace": ("grace", _seconds),
     "--tag": ("tag", _text), "--host": ("host", _text), "--url": ("url", _text),
     "--key": ("key", _text), "--env": ("env", _whole(1, None))},
    {"jobs": None, "concurrency": 4, "grace": 30.0, "tag": None, "host": None, "url": None,
     "key": None, "env": None},
    target=False,
    lists=frozenset({"tag"}),
)  # fmt: skip
_SERVE = _Spec(
    {"--host": ("host", _text), "--port": ("port", _whole(1, None)), "--db": ("db", _text)},
    {"host": None, "port": None, "db": None, "allow_private_webhooks": None},
    target=False,
    flags={"--allow-private-webhooks": "allow_private_webhooks"},
)  # fmt: skip


def _option(spec: _Spec, arg: str, rest: Sequence[str], out: dict[str, object]) -> int | None:
    """Take the option ``arg`` (and its value from ``rest``): how many of ``rest`` it used,
    or ``None`` when Typer should handle the arguments."""
    flag, eq, value = arg.partition("=")
    if spec.flags and flag in spec.flags:
        if eq:
            return None
        out[spec.flags[flag]] = True
        return 0
    known = spec.options.get(flag)
    if known is None or (eq and not flag.startswith("--")):
        return None
    used = 0
    if not eq:
        if not rest:
            return None
        value, used = rest[0], 1
    name, parse = known
    parsed = None if value.startswith("-") else parse(value)
    if parsed is None:
        return None
    if name in spec.lists:
        out[name] = [*(out.get(name) or []), parsed]  # type: ignore[misc]
    else:
        out[name] = parsed
    return used


def parse(spec: _Spec, args: Sequence[str]) -> dict[str, object] | None:
    """The parameters of ``args``, or ``None`` when Typer should handle them (help, anything
    unusual, anything wrong)."""
    out = dict(spec.defaults)
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-"):
            used = _option(spec, arg, args[i + 1 :], out)
            if used is None:
                return None
            i += used
        else:
            positional.append(arg)
        i += 1
    if len(positional) != (1 if spec.target else 0):
        return None
    if spec.target:
        out["target"] = positional[0]
    return out


def parse_worker(args: Sequence[str]) -> dict[str, object] | None:
    """The ``run_worker`` arguments of ``schedo worker <args>`` (or ``None``: Typer's)."""
    return parse(_WORKER, args)


def _environment(name: str) -> str | None:
    value = os.environ.get(name)
    return value or None  # an empty variable counts as unset, as for Typer


def parse_agent(args: Sequence[str]) -> dict[str, object] | None:
    """The ``run_agent`` arguments of ``schedo agent <args>``, with ``--url/--key/--env``
    taken from ``SCHEDO_BASE_URL``/``SCHEDO_API_KEY``/``SCHEDO_ENVIRONMENT`` (then
    ``SCHEDO_ENVIRONMENT_ID``) when not given (or ``None``: Typer's)."""
    out = parse(_AGENT, args)
    if out is None:
        return None
    if out["url"] is None:
        from ..sdk.calls import DEFAULT_BASE_URL

        out["url"] = _environment("SCHEDO_BASE_URL") or DEFAULT_BASE_URL
    if out["key"] is None:
        out["key"] = _environment("SCHEDO_API_KEY")
    if out["env"] is None:
        named = _environment("SCHEDO_ENVIRONMENT") or _environment("SCHEDO_ENVIRONMENT_ID")
        if named is not None:
            out["env"] = _whole(1, None)(named)
            if out["env"] is None:  # Typer's error message for a bad variable
                return None
    return out


def _no_httpx_cli() -> None:
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def parse_serve(args: Sequence[str]) -> dict[str, object] | None:
    """The ``run_serve`` arguments of ``schedo serve <args>`` (or ``None``: Typer's)."""
    return parse(_SERVE, args)


def _serve(argv: Sequence[str]) -> NoReturn:
    """``schedo serve``: ``serve_run.run_serve`` for a plain invocation, else the Typer
    command in a Typer app of its own (serve_cmd.serve_app): its parsing and messages,
    without the other commands' modules (``--help`` goes to the full app: ``dispatch``)."""
    _no_httpx_cli()
    options = parse_serve(argv[1:])
    if options is not None:
        from .serve_run import run_serve

        raise SystemExit(run_serve(**options))  # type: ignore[arg-type]
    from .serve_cmd import serve_app

    serve_app()(args=list(argv))  # exits (SystemExit) with the server's status
    raise SystemExit(0)  # not reached: Typer always exits


def dispatch(argv: Sequence[str]) -> int | None:
    """Run ``schedo worker`` or ``schedo agent`` here when ``argv`` (without the program
    name) is an invocation of one this module understands: its exit status; ``schedo serve``
    (but ``--help``) in a Typer app of its own, never returning; else ``None`` (the full
    command line handles ``argv``)."""
    if not argv or argv[0] not in ("worker", "agent", "serve") or "_SCHEDO_COMPLETE" in os.environ:
        return None
    if argv[0] == "serve":
        if "--help" not in argv:
            _serve(argv)
        return None
    if argv[0] == "worker":
        worker = parse_worker(argv[1:])
        if worker is None:
            return None
        _no_httpx_cli()
        from .worker_run import WorkerExit, run_worker

        try:
            return run_worker(**worker)  # type: ignore[arg-type]
        except WorkerExit as exc:
            return exc.code
    agent = parse_agent(argv[1:])
    if agent is None:
        return None
    _no_httpx_cli()
    from .agent import run_agent
    from .plain import CliError

    try:
        return run_agent(**agent)  # type: ignore[arg-type]
    except CliError as exc:
        print(f"schedo: {exc.message}", file=sys.stderr, flush=True)
        return exc.code
