"""``schedo backup PATH``: a consistent copy of a SQLite database, safe while a server serves it.

It uses SQLite's online backup API (``sqlite3.Connection.backup``) in a single step: the
copy is one read transaction, so it is a consistent snapshot, and in WAL mode the server's
writers are not blocked while it runs. The copy is written beside ``PATH`` under a temporary
name, switched to ``journal_mode=DELETE`` (one self-contained file, no ``-wal``/``-shm``),
checked with ``PRAGMA integrity_check``, flushed to disk, then renamed to ``PATH``: a crash
never leaves a half-written file under the final name. PostgreSQL databases are refused with
a pointer to ``pg_dump``. Restore: see docs/hardening.md ("Backup and restore").

The database's sealing key file (``SCHEDO_SECRET_KEY_FILE``, default ``<database>.key``; it
seals the webhook signature keys) is copied beside the backup as ``<backup>.key`` (mode 0600):
restored without its key, the database is refused by ``schedo serve`` (naming the missing file;
no new key is made) until the key is put back or ``schedo reset-signature-keys`` gives every
environment a new signature key. ``--no-key`` leaves it out, for backups kept apart from their
key. With ``SCHEDO_SECRET_KEY`` (no file),
keep that value with your backups yourself.

Only the standard library is used (no server extra needed).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
import urllib.parse
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_URL = "sqlite:///schedo.db"
PG_HINT = (
    "schedo backup copies SQLite databases only; for PostgreSQL use pg_dump, e.g. "
    "pg_dump --format=custom --file=schedo.dump \"$SCHEDO_DATABASE_URL\" "
    "(see docs/operations.md)"
)


class BackupError(Exception):
    """One clear line for the user; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: str
    bytes: int
    jobs: int
    executions: int
    seconds: float
    integrity: str
    key: str | None = None  # the copied sealing key file, if any


def sqlite_file(url: str) -> Path:
    """The file of a ``sqlite:///…`` URL (SQLAlchemy's form: three slashes then a relative
    path, four for an absolute one). Raises BackupError (exit 2) for other databases."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise BackupError(f"database URL: cannot parse {url!r} (sqlite:///path.db)", 2)
    base = scheme.split("+", 1)[0].lower()
    if base in ("postgresql", "postgres"):
        raise BackupError(PG_HINT, 2)
    if base != "sqlite":
        raise BackupError(f"database URL: unsupported scheme {scheme!r} (sqlite)", 2)
    path = urllib.parse.unquote(rest.split("?", 1)[0])
    if not path.startswith("/") or path in ("/", "/:memory:"):
        raise BackupError("database: an in-memory SQLite database cannot be backed up", 2)
    return Path(path[1:])


def _open_source(src: Path) -> sqlite3.Connection:
    """Read-only where SQLite allows it; a plain connection (that only reads) otherwise, e.g.
    for a WAL database whose ``-shm`` file does not exist while no server runs."""
    uri = "file:" + urllib.parse.quote(str(src.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.Error:
        return sqlite3.connect(str(src), timeout=30)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _count(conn: sqlite3.Connection, table: str) -> int:
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.Error:
        return 0


def key_file(src: Path) -> Path:
    """The sealing key file of the database ``src`` (storage/sealing.py's rules)."""
    named = os.environ.get("SCHEDO_SECRET_KEY_FILE")
    return Path(named) if named else src.with_name(src.name + ".key")


def _copy_key(key: Path, dest: Path) -> Path:
    target = dest.with_name(dest.name + ".key")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.read_bytes())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


def backup(
    src: Path, dest: Path, *, force: bool = False, check: bool = True, with_key: bool = True
) -> BackupResult:
    started = time.monotonic()
    if not src.is_file():
        raise BackupError(f"database: {src} does not exist", 2)
    if dest.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        dest = dest / f"schedo-{stamp}.db"
    if dest.exists() and dest.resolve() == src.resolve():
        raise BackupError("backup: the target is the database itself", 2)
    if dest.exists() and not force:
        raise BackupError(f"backup: {dest} exists (use --force to replace it)", 2)
    if not dest.parent.is_dir():
        raise BackupError(f"backup: folder {dest.parent} does not exist", 2)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        source = _open_source(src)
        try:
            target = sqlite3.connect(str(tmp))
            try:
                source.backup(target)  # pages=-1: one step, one consistent snapshot
                target.execute("PRAGMA journal_mode = DELETE")
                integrity = "skipped"
                if check:
                    rows = target.execute("PRAGMA integrity_check").fetchall()
                    integrity = "; ".join(str(r[0]) for r in rows)
                    if integrity != "ok":
                        raise BackupError(f"backup: integrity check of the copy failed: "
                                          f"{integrity[:500]}")
                jobs, runs = _count(target, "jobs"), _count(target, "executions")
            finally:
                target.close()
        finally:
            source.close()
        _fsync(tmp)
        os.replace(tmp, dest)
        _fsync(dest.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"backup: {exc}") from None
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
            leftover.unlink(missing_ok=True)
    key = key_file(src)
    copied = None
    # with SCHEDO_SECRET_KEY the server uses no file: a file there would be a stale one
    if with_key and not os.environ.get("SCHEDO_SECRET_KEY") and key.is_file():
        try:
            copied = str(_copy_key(key, dest))
        except OSError as exc:
            raise BackupError(f"backup: the database was copied, but not its key {key}: "
                              f"{exc.strerror}") from None
    return BackupResult(
        path=str(dest), bytes=dest.stat().st_size, jobs=jobs, executions=runs,
        seconds=round(time.monotonic() - started, 3), integrity=integrity, key=copied,
    )


def backup_command(
    path: Annotated[Path, typer.Argument(help="File to write (or a folder: a dated name in it)")],
    db: Annotated[
        str,
        typer.Option("--db", envvar="SCHEDO_DATABASE_URL",
                     help="Database URL (SCHEDO_DATABASE_URL); default sqlite:///schedo.db"),
    ] = DEFAULT_URL,
    force: Annotated[bool, typer.Option("--force", help="Replace PATH if it exists")] = False,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Skip PRAGMA integrity_check of the copy")
    ] = False,
    no_key: Annotated[
        bool, typer.Option("--no-key", help="Do not copy the sealing key file beside PATH")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Copy a SQLite database with the online backup API (safe while the server runs), and
    its sealing key file beside it (PATH.key)."""
    try:
        result = backup(sqlite_file(db), path, force=force, check=not no_check,
                        with_key=not no_key)
    except BackupError as exc:
        print(f"schedo: {exc}", file=sys.stderr)
        raise typer.Exit(exc.code) from None
    if as_json:
        print(json.dumps(asdict(result)))
    else:
        print(f"backup written to {result.path}: {result.bytes} bytes, {result.jobs} jobs, "
              f"{result.executions} executions, integrity {result.integrity}, "
              f"{result.seconds:.2f}s")
        if result.key:
            print(f"sealing key copied to {result.key} (restore it beside the database as "
                  "<database>.key; keep it as safe as the database)")
        elif not no_key:
            print("sealing key not copied (SCHEDO_SECRET_KEY is set, or no key file): keep "
                  "that key with this backup")
        else:
            print("sealing key left out (--no-key): keep it apart; without it a restored copy "
                  "starts only after 'schedo reset-signature-keys'")


def register(app: typer.Typer) -> None:
    """Add ``schedo backup`` to ``app``."""
    app.command("backup")(backup_command)
