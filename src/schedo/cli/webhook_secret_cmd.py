"""``schedo secret show|rotate``: the environment's webhook signature key and its rotation
with an overlap (issue 22; ``GET /org/environments/{id}/webhook-secret`` and ``POST
.../rotate``). Admin keys only. ``--env`` names the environment (default: the organisation's
first). ``rotate --overlap`` is how long the old key still signs beside the new one: seconds,
or a number with s, m, h or d (``0``: the old key stops at once, for a leaked key; at most
7 days; default 24h). The new key is printed once. Options, output and exit codes as in
``manage.py``. (``schedo reset-signature-keys``, in ``secret_cmd.py``, is the way back from a
lost *sealing* key, run beside the database.)"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from ..sdk.client import Client
from ..sdk.models import parse_time
from .support import (
    DEFAULT_URL,
    EXIT_USAGE,
    CliError,
    Connection,
    EnvOption,
    JsonOption,
    KeyOption,
    UrlOption,
    handled,
    print_json,
    when,
)

secret_app = typer.Typer(
    help="Show or rotate the environment's webhook signing secret (admin keys).",
    no_args_is_help=True,
)

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"([0-9]{1,7})([smhd]?)")  # [0-9], not \d (digits of other scripts)


def parse_overlap(text: str) -> int:
    """``"24h"`` → 86400; a bare number is seconds. CliError (usage) for anything else; the
    server checks the range (0 to 7 days)."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        raise CliError(f"--overlap: {text!r} is not a duration such as 0, 90s, 30m, 24h or 7d",
                       EXIT_USAGE)
    return int(found.group(1)) * UNITS[found.group(2) or "s"]


def _env_id(client: Client, env: int | None) -> int:
    if env is not None:
        return env
    return min(e.id for e in client.list_environments())


def _print(state: dict[str, Any], verb: str) -> None:
    typer.echo(f"{verb} webhook signing secret of {state['environment_name']} "
               f"(environment {state['environment_id']}):")
    typer.echo(state["webhook_signature_key"])
    until = state.get("previous_valid_until")
    if until:
        typer.echo(f"the previous secret still signs until {when(parse_time(until))} "
                   f"({until}); give your receivers the new one before then")
    elif verb == "New":
        typer.echo("the previous secret no longer signs")


@secret_app.command("show")
def secret_show(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the environment's webhook signing secret and a running overlap's end."""
    with handled(), Connection(url, key, env).client() as client:
        state = client.webhook_secret(_env_id(client, env))
    if as_json:
        print_json(state)
    else:
        _print(state, "The")


@secret_app.command("rotate")
def secret_rotate(
    overlap: Annotated[str, typer.Option(
        "--overlap", metavar="DURATION",
        help="How long the old secret still signs beside the new one (0 to 7d).")] = "24h",
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a new webhook signing secret; the old one signs beside it for --overlap."""
    with handled():
        seconds = parse_overlap(overlap)
        with Connection(url, key, env).client() as client:
            env_id = _env_id(client, env)
            running = client.webhook_secret(env_id).get("previous_valid_until")
            state = client.rotate_webhook_secret(env_id, seconds)
    if as_json:
        print_json(state)
    else:
        _print(state, "New")
    if running:  # two secrets sign at most: the one from before that rotation is gone
        typer.echo(f"schedo: a rotation was under way (until {running}): the secret from "
                   "before it stopped signing now", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(secret_app, name="secret")
