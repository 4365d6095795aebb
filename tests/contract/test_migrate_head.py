"""``migrate`` loads Alembic only when there is something to migrate: the head revision is
read from the migration files (``head_revision``), and a database already at it starts
without the ~11 MB of Alembic (issue 18, footprint)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from alembic.script import ScriptDirectory

from schedo.server.storage.migrate import alembic_config, head_revision


def test_head_revision_is_alembics_head() -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_current_database_starts_without_loading_alembic(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import asyncio, sys
        from schedo.server.storage.db import Database
        from schedo.server.storage.migrate import migrate

        async def main(first):
            db = Database("sqlite:///{tmp_path / 'm.db'}")
            try:
                await migrate(db)
            finally:
                await db.dispose()
            print("alembic" in sys.modules)

        asyncio.run(main(sys.argv[1]))
    """)
    run = [sys.executable, "-c", script]
    first = subprocess.run([*run, "new"], capture_output=True, text=True, check=True)
    again = subprocess.run([*run, "again"], capture_output=True, text=True, check=True)
    assert first.stdout.split() == ["True"], first.stderr  # a new database: Alembic migrates
    assert again.stdout.split() == ["False"], again.stderr  # at head: never imported
