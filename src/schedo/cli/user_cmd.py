"""``schedo user add EMAIL --role admin``: a dashboard user made from the server's host, the
way to the first user (issue 22; later ones are invited from the People page).

Writes to the database directly (``--db`` / SCHEDO_DATABASE_URL); a running server is no
obstacle (one insert). The password is read from SCHEDO_USER_PASSWORD or asked twice at a
prompt; it is stored as an argon2id hash only.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

user_app = typer.Typer(help="Dashboard users (issue 22).", no_args_is_help=True)


async def _add(database_url: str, org_id: int, email: str, password: str, role: str,
               env_id: int | None, name: str) -> tuple[int, str]:
    from ..server.config import Settings
    from ..server.runtime.bus import Bus
    from ..server.runtime.clock import SystemClock
    from ..server.services import people
    from ..server.services.context import Services
    from ..server.storage.db import Database
    from ..server.storage.migrate import migrate
    from ..server.storage.sealing import Sealer
    from ..server.storage.sql import SqlStore

    db = Database(database_url, pool_size=1)
    try:
        await migrate(db)
        # users only: nothing is sealed or opened, so no sealing key is read or made
        store = SqlStore(db, Sealer.random())
        if await store.get_meta("api_key_pepper") is None:
            raise LookupError("the database has no organization yet: start `schedo serve` "
                              "once (it creates the organization)")
        await store.get_org(org_id)
        svc = Services(store=store, clock=SystemClock(),
                       settings=Settings(database_url=database_url), bus=Bus())
        user = await people.add_user(svc, org_id, email, password, role, env_id, name)
    finally:
        await db.dispose()
    return user.id, user.email


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email address.")],
    role: Annotated[str, typer.Option("--role", help="viewer, operator, editor or admin")]
    = "admin",
    env: Annotated[int | None, typer.Option(
        "--env", min=1, max=2**31 - 1,
        help="The environment of the role (default: every environment)")] = None,
    name: Annotated[str, typer.Option("--name", help="Display name")] = "",
    db: Annotated[str, typer.Option(
        "--db", envvar="SCHEDO_DATABASE_URL",
        help="Database URL (SCHEDO_DATABASE_URL); default sqlite:///schedo.db")]
    = "sqlite:///schedo.db",
    org: Annotated[int, typer.Option("--org", min=1, max=2**31 - 1,
                                     help="Organization id")] = 1,
    password: Annotated[str | None, typer.Option(
        "--password", envvar="SCHEDO_USER_PASSWORD", show_envvar=True, hidden=True)] = None,
) -> None:
    """Add a user who signs in to the dashboard with EMAIL and a password."""
    try:
        from ..server.domain.errors import SchedoError
        from ..server.serve import ServeError, sqlite_path
    except ImportError as exc:
        print(f"schedo: user needs the 'server' extra ({exc.name} is missing)",
              file=sys.stderr)
        raise typer.Exit(2) from None
    try:
        path = sqlite_path(db)
        if path is not None and not path.exists():
            raise ServeError(f"{path}: no such database file")
    except ServeError as exc:
        print(f"schedo: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user_id, address = asyncio.run(_add(db, org, email, password, role, env, name))
    except (SchedoError, LookupError) as exc:
        print(f"schedo: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    where = "every environment" if env is None else f"environment {env}"
    print(f"Added user {address} (id {user_id}) as {role} in {where}. "
          "They sign in at /ui/login with this address and the password.")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
