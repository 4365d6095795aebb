"""``schedo env …``, ``schedo keys …`` and ``schedo emails …``: environments, API keys and
the organisation's notification emails. Options, output and exit codes as in ``manage.py``."""

from __future__ import annotations

from typing import Annotated

import typer

from ..sdk.client import Client
from ..sdk.errors import Forbidden
from ..sdk.models import ApiKey, Environment
from .support import (
    DEFAULT_URL,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Cell,
    CliError,
    Connection,
    EnvOption,
    JsonOption,
    KeyOption,
    UrlOption,
    handled,
    print_json,
    print_table,
    status_cell,
    when,
)


def _key_state(k: ApiKey) -> Cell:
    return status_cell("revoked" if k.revoked else "active")


# -- environments ------------------------------------------------------------------------------

env_app = typer.Typer(help="Manage environments (admin key).", no_args_is_help=True)


def _env_rows(envs: list[Environment]) -> list[list[Cell]]:
    return [[str(e.id), e.name, when(e.created_at)] for e in envs]


@env_app.command("ls")
def env_ls(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the organisation's environments."""
    with handled(), Connection(url, key, env).client() as client:
        envs = client.list_environments()
        if as_json:
            print_json([e.raw for e in envs])
        else:
            print_table(["ID", "NAME", "CREATED"], _env_rows(envs), right=["ID"])


@env_app.command("create")
def env_create(
    name: Annotated[str, typer.Argument(help="Name of the new environment.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an environment."""
    with handled(), Connection(url, key, env).client() as client:
        created = client.create_environment(name)
        if as_json:
            print_json(created.raw)
        else:
            typer.echo(f"Created environment {created.name} (id {created.id})")


@env_app.command("rm")
def env_rm(
    env_id: Annotated[int, typer.Argument(metavar="ID", min=1, help="Environment id.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete an environment with its jobs, runs and keys."""
    with handled(), Connection(url, key, env).client() as client:
        deleted = client.delete_environment(env_id)
        if as_json:
            print_json(deleted.raw)
        else:
            typer.echo(f"Deleted environment {deleted.name} (id {deleted.id})")


# -- API keys ----------------------------------------------------------------------------------

keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@keys_app.command("ls")
def keys_ls(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the keys of the environment (only their prefixes)."""
    with handled(), Connection(url, key, env).client() as client:
        listed = client.list_api_keys()
        if as_json:
            print_json([k.raw for k in listed])
            return
        rows: list[list[Cell]] = [
            [
                str(k.id),
                k.name,
                k.key,
                str(k.environment_id or "-"),
                _key_state(k),
                when(k.created_at),
            ]
            for k in listed
        ]
        print_table(["ID", "NAME", "KEY", "ENV", "STATE", "CREATED"], rows, right=["ID"])


def _default_environment(client: Client) -> int:
    """The environment a key works in when ``--env`` is not given: an admin key's first
    environment, an environment key's own."""
    try:
        envs = client.list_environments()
    except Forbidden:
        for k in client.list_api_keys():
            if k.environment_id is not None:
                return k.environment_id
        raise CliError("cannot tell the key's environment: pass --env", EXIT_USAGE) from None
    if not envs:
        raise CliError("the organisation has no environment", EXIT_NOT_FOUND)
    return min(e.id for e in envs)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Name of the new key.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
    scope: Annotated[str | None, typer.Option(
        "--scope", help="full (default), editor, operator, read or worker")] = None,
) -> None:
    """Create an environment key and print it (the only time it is shown in full).

    The key belongs to --env, else to the calling key's own (or first) environment.
    """
    with handled(), Connection(url, key, env).client() as client:
        target = env if env is not None else _default_environment(client)
        created = client.create_api_key(target, name, scope)
        if as_json:
            print_json(created.raw)
            return
        typer.echo(created.key)
        typer.echo(
            f"Created key {created.name} (id {created.id}, scope {created.scope}) for "
            f"environment {target}. "
            "This is the only time the full key is shown.",
            err=True,
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(metavar="ID", min=1, help="Key id.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key (it stops working on its next request)."""
    with handled(), Connection(url, key, env).client() as client:
        revoked = client.revoke_api_key(key_id)
        if as_json:
            print_json(revoked.raw)
        else:
            typer.echo(f"Revoked key {revoked.name} (id {revoked.id})")


# -- notification emails -----------------------------------------------------------------------

emails_app = typer.Typer(
    help="Manage the organisation's notification emails.", no_args_is_help=True
)


def _print_emails(addresses: list[str], as_json: bool) -> None:
    if as_json:
        print_json(addresses)
    else:
        print_table(["EMAIL"], [[a] for a in addresses])


@emails_app.command("ls")
def emails_ls(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the addresses that get failure and recovery mail."""
    with handled(), Connection(url, key, env).client() as client:
        _print_emails(client.list_emails(), as_json)


@emails_app.command("add")
def emails_add(
    address: Annotated[str, typer.Argument(metavar="ADDR", help="Email address.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add an address (admin key). Prints the resulting list."""
    with handled(), Connection(url, key, env).client() as client:
        _print_emails(client.add_email(address), as_json)


@emails_app.command("rm")
def emails_rm(
    address: Annotated[str, typer.Argument(metavar="ADDR", help="Email address.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove an address (admin key). Prints the resulting list."""
    with handled(), Connection(url, key, env).client() as client:
        _print_emails(client.remove_email(address), as_json)


def register(app: typer.Typer) -> None:
    """Add ``env``, ``keys`` and ``emails`` to ``app``."""
    app.add_typer(env_app, name="env")
    app.add_typer(keys_app, name="keys")
    app.add_typer(emails_app, name="emails")
