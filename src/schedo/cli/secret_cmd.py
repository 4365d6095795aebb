"""``schedo reset-signature-keys``: the way back from a lost sealing key.

Webhook signature keys are sealed with a key kept outside the database (SCHEDO_SECRET_KEY,
SCHEDO_SECRET_KEY_FILE or ``<database>.key``; see docs/hardening.md "Secrets at rest"). If that
key is lost, the server refuses to start rather than sign with keys it cannot read. This
command, run with every server stopped, gives every environment a new signature key sealed
with the current key (a new key file is created if none exists) and makes that key the
database's. Receivers of push requests and notification webhooks must then be given the new
keys (``GET /org/environments`` or the dashboard).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer


async def _reset(database_url: str) -> list[str]:
    from ..server.app import sealer_for
    from ..server.config import Settings
    from ..server.services import keys
    from ..server.storage.db import Database
    from ..server.storage.migrate import migrate
    from ..server.storage.sql import SqlStore

    sealer = sealer_for(Settings(database_url=database_url))
    db = Database(database_url, pool_size=1)
    try:
        await migrate(db)
        return await SqlStore(db, sealer).reset_signature_keys(keys.new_secret)
    finally:
        await db.dispose()


def reset_signature_keys(
    db: Annotated[
        str,
        typer.Option("--db", envvar="SCHEDO_DATABASE_URL",
                     help="Database URL (SCHEDO_DATABASE_URL); default sqlite:///schedo.db"),
    ] = "sqlite:///schedo.db",
    yes: Annotated[bool, typer.Option("--yes", help="Do it (every signature key changes)")] = False,
) -> None:
    """Replace every environment's webhook signature key (after losing the sealing key)."""
    if not yes:
        print("schedo: this replaces every environment's webhook signature key; every push "
              "receiver must then be given its new key. Stop every server, then run again "
              "with --yes.", file=sys.stderr)
        raise typer.Exit(2)
    from ..server.serve import ServeError, lock_sqlite, sqlite_path
    from ..server.storage.sealing import SealError

    try:
        path = sqlite_path(db)
        lock = lock_sqlite(path) if path is not None else None  # refused while a server runs
    except ServeError as exc:
        print(f"schedo: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    try:
        names = asyncio.run(_reset(db))
    except SealError as exc:
        print(f"schedo: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        if lock is not None:
            lock.close()
    print(f"new webhook signature keys for {len(names)} environment(s): {', '.join(names)}; "
          "read them with GET /org/environments and give them to your receivers")


def register(app: typer.Typer) -> None:
    app.command("reset-signature-keys")(reset_signature_keys)
