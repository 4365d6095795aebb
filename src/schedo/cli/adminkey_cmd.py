"""``schedo admin-key --rotate``: a new admin key from the server's host, the way back from a
lost or leaked admin key (no API route makes admin keys, and the last one cannot be revoked).

Run beside the database with every server stopped (refused otherwise, as
``reset-signature-keys`` is): it creates a new admin key for the organisation, revokes every
other admin key in the same transaction, and prints the new key once.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer


async def _rotate(database_url: str, value: str | None, org_id: int) -> tuple[str, int]:
    from ..server.domain.audit import Actor, Via
    from ..server.runtime.clock import SystemClock
    from ..server.services import keys
    from ..server.storage.db import Database
    from ..server.storage.migrate import migrate
    from ..server.storage.sealing import Sealer
    from ..server.storage.sql import SqlStore

    key = value or keys.new_key()
    db = Database(database_url, pool_size=1)
    try:
        await migrate(db)
        # api keys only: nothing is sealed or opened, so no sealing key is read or made
        store = SqlStore(db, Sealer.random())
        pepper = await store.get_meta("api_key_pepper")
        if pepper is None:
            raise LookupError("the database has no organization yet: start `schedo serve` "
                              "once (it creates the first admin key)")
        await store.get_org(org_id)
        _record, revoked = await store.rotate_admin_key(
            org_id, keys.lookup_prefix(key), keys.digest(pepper, key), SystemClock().now(),
            actor=Actor(key_id=None, key_name="schedo admin-key --rotate", via=Via.CLI.value),
        )
    finally:
        await db.dispose()
    return key, revoked


def admin_key(
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Make a new admin key and revoke the others")
    ] = False,
    db: Annotated[
        str,
        typer.Option("--db", envvar="SCHEDO_DATABASE_URL",
                     help="Database URL (SCHEDO_DATABASE_URL); default sqlite:///schedo.db"),
    ] = "sqlite:///schedo.db",
    value: Annotated[
        str | None,
        typer.Option("--value", envvar="SCHEDO_ADMIN_KEY", show_envvar=False,
                     help="Use this key (16-256 characters) instead of a random one"),
    ] = None,
    org: Annotated[int, typer.Option("--org", min=1, max=2**31 - 1,
                                     help="Organization id")] = 1,
) -> None:
    """Rotate the organization's admin key (servers stopped): prints the new key once."""
    if not rotate:
        print("schedo: say --rotate: a new admin key is made and every other admin key of "
              "the organization is revoked (stop every server first)", file=sys.stderr)
        raise typer.Exit(2)
    try:
        from ..server.domain.errors import SchedoError
        from ..server.serve import ServeError, lock_sqlite, sqlite_path
        from ..server.services import keys
        from ..server.storage.sealing import SealError
    except ImportError as exc:
        print(f"schedo: admin-key needs the 'server' extra ({exc.name} is missing)",
              file=sys.stderr)
        raise typer.Exit(2) from None
    problem = None if value is None else keys.key_problem(value)
    if problem is not None:
        print(f"schedo: --value: {problem}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        path = sqlite_path(db)
        if path is not None and not path.exists():
            raise ServeError(f"{path}: no such database file")
        lock = lock_sqlite(path) if path is not None else None  # refused while a server runs
    except ServeError as exc:
        print(f"schedo: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    try:
        key, revoked = asyncio.run(_rotate(db, value, org))
    except (SchedoError, SealError, LookupError) as exc:
        print(f"schedo: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        if lock is not None:
            lock.close()
    print(f"new admin key (shown once; {revoked} earlier admin key(s) revoked):")
    print(key)


def register(app: typer.Typer) -> None:
    app.command("admin-key")(admin_key)
