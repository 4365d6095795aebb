"""``schedo channels list|add|remove``: the alert channels of the key's environment (issue
19; ``GET|POST /org/channels``, ``DELETE /org/channels/{id}``). Options, output and exit
codes as in ``manage.py``.

``add NAME`` takes exactly one kind: ``--email ADDR`` (repeatable: an email channel),
``--webhook URL`` (a signed JSON webhook) or ``--slack URL`` (a Slack or Mattermost incoming
webhook); none or several is a usage error (2) and sends nothing. ``remove CHANNEL`` takes an
id or a name; a number is tried as an id first, then as a name (as ``JOB`` is)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..sdk.client import Client
from ..sdk.errors import NotFound
from ..sdk.models import parse_time
from .support import (
    DEFAULT_URL,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    CliError,
    Connection,
    EnvOption,
    JsonOption,
    KeyOption,
    UrlOption,
    handled,
    print_json,
    print_table,
    when,
)

channels_app = typer.Typer(
    help="Manage the environment's alert channels (email, webhook, Slack).",
    no_args_is_help=True,
)


def _destination(c: dict[str, Any]) -> str:
    return ", ".join(c.get("addresses") or []) if c["kind"] == "email" else str(c.get("url"))


@channels_app.command("list")
def channels_list(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the alert channels of the environment."""
    with handled(), Connection(url, key, env).client() as client:
        listed = sorted(client.list_channels(), key=lambda c: c["id"])
    if as_json:
        print_json(listed)
        return
    rows = [[str(c["id"]), c["name"], c["kind"], _destination(c),
             when(parse_time(c.get("created_at")))] for c in listed]
    print_table(["ID", "NAME", "KIND", "DESTINATION", "CREATED"], rows, right=["ID"])


@channels_app.command("add")
def channels_add(
    name: Annotated[str, typer.Argument(help="Name of the channel (unique in the environment).")],
    email: Annotated[list[str] | None, typer.Option(
        "--email", metavar="ADDR", help="An address of an email channel (repeat for more).",
        show_default=False)] = None,
    webhook: Annotated[str | None, typer.Option(
        "--webhook", metavar="URL", help="A JSON webhook, signed like push requests.",
        show_default=False)] = None,
    slack: Annotated[str | None, typer.Option(
        "--slack", metavar="URL", help="A Slack or Mattermost incoming-webhook URL.",
        show_default=False)] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a channel: --email ADDR (repeatable), --webhook URL or --slack URL."""
    with handled():
        given = [k for k, v in (("--email", email), ("--webhook", webhook), ("--slack", slack))
                 if v]
        if len(given) != 1:
            raise CliError("give exactly one of --email, --webhook or --slack"
                           + (f" (got {', '.join(given)})" if given else ""), EXIT_USAGE)
        with Connection(url, key, env).client() as client:
            if email:
                created = client.create_channel(name, "email", addresses=list(email))
            else:
                created = client.create_channel(name, "webhook" if webhook else "slack",
                                                url=webhook or slack)
    if as_json:
        print_json(created)
    else:
        typer.echo(f"Added {created['kind']} channel {created['name']} (id {created['id']})")


def _resolve(client: Client, ref: str) -> dict[str, Any]:
    text = ref.strip()
    if not text:
        raise CliError("CHANNEL: give a channel id or a channel name", EXIT_USAGE)
    if text.isascii() and text.isdigit() and 0 < int(text) < 2**63:
        try:
            return client.get_channel(int(text))
        except NotFound:
            pass
    for c in client.list_channels():
        if c["name"] == text:
            return c
    raise CliError(f"no channel with id or name {text!r}", EXIT_NOT_FOUND)


@channels_app.command("remove")
def channels_remove(
    channel: Annotated[str, typer.Argument(metavar="CHANNEL", help="Channel id or name.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove a channel (by id or name)."""
    with handled(), Connection(url, key, env).client() as client:
        target = _resolve(client, channel)
        deleted = client.delete_channel(target["id"])
    if as_json:
        print_json(deleted)
    else:
        typer.echo(f"Removed channel {deleted['name']} (id {deleted['id']})")


def register(app: typer.Typer) -> None:
    app.add_typer(channels_app, name="channels")
