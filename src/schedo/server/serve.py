"""``schedo serve``: preflight checks with clear messages, then uvicorn on our own socket.

- the port is bound here first, so "address in use" is one clear line, not a traceback;
- the database is opened and migrated before serving, so a bad path or URL is one line too;
- a SQLite file is locked (``<file>.lock``, flock) for the life of the process, so a second
  server on the same file is refused (SQLite serves one process; use PostgreSQL to scale).
SIGTERM/SIGINT: uvicorn stops accepting, finishes in-flight requests, runs the lifespan
shutdown (loops cancelled, connections closed) and the process exits 0.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import gc
import logging
import os
import socket
import sys
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from .config import Settings


class ServeError(Exception):
    """A condition that stops the server with one clear message."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} on {host} is already in use; choose another with --port"
            ) from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def sqlite_path(url: str) -> Path | None:
    """The SQLite file to lock; None for PostgreSQL. ServeError for an in-memory database."""
    from .storage.db import MEMORY, sqlite_database

    database = sqlite_database(url)
    if database is None:
        return None
    if database == MEMORY:
        raise ServeError(
            "database: an in-memory SQLite database cannot be served; give a file path"
        )
    return Path(database)


def lock_sqlite(path: Path) -> IO[str]:
    """Hold an exclusive lock beside the SQLite file for the life of the process."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise ServeError(f"database: folder {parent} does not exist")
    lock_path = path.with_name(path.name + ".lock")
    try:
        fh = open(lock_path, "a+")
    except OSError as exc:
        raise ServeError(f"database: cannot open {lock_path}: {exc.strerror}") from None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        raise ServeError(
            f"database: {path} is already served by another schedo process"
            + (f" (pid {holder})" if holder else "")
            + "; a SQLite file serves one process (use PostgreSQL to run several)"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


async def _preflight(settings: Settings) -> str | None:
    """Check the SMTP URL, migrate, check the sealing key, bootstrap organisation 1 (which
    seals its first signature key: cryptography, on a new database): the admin key to show
    once when one was generated."""
    from .app import sealer_for
    from .domain.errors import InvalidInput
    from .notify.smtp import parse_smtp_url
    from .runtime.bus import Bus
    from .runtime.clock import SystemClock
    from .services.context import Services
    from .services.tenants import bootstrap
    from .storage.db import Database
    from .storage.migrate import migrate
    from .storage.sealing import SealError
    from .storage.sql import SqlStore

    if settings.smtp_url:
        try:
            parse_smtp_url(settings.smtp_url)
        except ValueError as exc:
            msg = str(exc)
            raise ServeError(msg if msg.startswith("SCHEDO_SMTP_URL") else
                             f"SCHEDO_SMTP_URL: {msg}") from None

    db = Database(settings.database_url, pool_size=1)
    try:
        await migrate(db)  # first: a bad URL or an unreachable database is the first message
        store = SqlStore(db, sealer_for(settings))
        await store.prepare_sealing()
        svc = Services(store=store, clock=SystemClock(), settings=settings, bus=Bus())
        return (await bootstrap(svc, settings.admin_key)).admin_key
    except (SealError, InvalidInput) as exc:  # InvalidInput: a bad SCHEDO_ADMIN_KEY
        raise ServeError(str(exc)) from None
    finally:
        await db.dispose()


def _describe(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _checked(settings: Settings) -> bytes:
    """``_preflight``'s outcome as the child's answer: ``ok`` (then ``:`` and the generated
    admin key, if any) or ``error:`` and the one line to stop with."""
    try:
        key = asyncio.run(_preflight(settings))
    except ServeError as exc:
        return b"error:" + str(exc).encode()
    except Exception as exc:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        return f"error:database: cannot open {shown!r}: {_describe(exc)}".encode()
    return b"ok" if key is None else b"ok:" + key.encode()


def _preflight_in_child(settings: Settings) -> str | None:
    """``_preflight`` in a forked child process: the admin key it generated, if any;
    ServeError with its message if it failed.

    Migrating loads Alembic and Mako (~11 MB) and checking the sealing key loads cryptography
    (~7 MB); modules stay loaded once imported, so the server process would keep them for its
    whole life although it needs neither again (issue 18, idle RSS); on a new database the
    bootstrap seals organisation 1's first signature key (cryptography again), so it runs
    here too and the lifespan's bootstrap finds it done. A forked child costs
    no second interpreter start: it shares what is loaded so far and ends with its imports.
    The migration's own locks (PostgreSQL's advisory lock, SQLite's write transaction) work
    from the child as from the server itself."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then end without running the parent's exit handlers
        status = 1
        try:
            os.close(read_end)
            outcome = _checked(settings)
            with os.fdopen(write_end, "wb") as out:
                out.write(outcome)
            status = 0
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        reply = answer.read()
    _, wait_status = os.waitpid(pid, 0)
    if reply.startswith(b"error:"):
        raise ServeError(reply[len(b"error:"):].decode(errors="replace"))
    head, ok, key = reply.partition(b":")
    if head != b"ok" or os.waitstatus_to_exitcode(wait_status) != 0:
        raise ServeError("the start-up checks (migrations, secret key) ended unexpectedly "
                         f"(exit status {os.waitstatus_to_exitcode(wait_status)})")
    return key.decode() if ok else None


def prepare_imports() -> None:
    """Leave out what the server's libraries import but a server never uses (issue 18, idle
    RSS); called before uvicorn and the app are imported (bench/footprint.py too).

    - uvicorn imports its reloader's file watcher (watchfiles, a Rust library, ~0.6 MB) at
      its own import; a server never reloads. Imported with watchfiles marked absent, uvicorn
      falls back to its stat-based reloader class (never used either); watchfiles stays
      importable for everything else.
    - FastAPI imports pydantic.v1 (~1 MB) only to refuse pydantic.v1 models, which no route
      uses: absent for the process's life, its check answers "not a v1 model".
    """
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]
    if "uvicorn" in sys.modules or "watchfiles" in sys.modules:
        return
    sys.modules["watchfiles"] = None  # type: ignore[assignment]
    try:
        import uvicorn  # noqa: F401
    finally:
        del sys.modules["watchfiles"]


def _server_class() -> type:
    prepare_imports()
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGTERM/SIGINT after a graceful shutdown (so the process dies of
        the signal); a finished graceful shutdown is a normal exit for us: status 0."""

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            # what startup built (modules, the app, the schema, the compiled statements)
            # lives as long as the process: frozen out of the collector's generations, a
            # full collection walks only what requests made; and the youngest generation is
            # collected every 10,000 net allocations, not 700 (a claim or a report batch
            # makes thousands of objects that live until its answer). In the herd (10,000
            # runs, ~5 s of server CPU) the collector's CPU went 0.78 -> 0.35 s.
            gc.collect()
            gc.freeze()
            gc.set_threshold(10_000, 10, 10)

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()
            # end long polls and streams now, so connections close within the grace period
            state = getattr(self.config.app, "state", None)
            svc, loop = getattr(state, "services", None), getattr(state, "loop", None)
            if svc is not None and loop is not None:
                loop.call_soon_threadsafe(svc.bus.stopping.set)

    return Server


def serve(settings: Settings) -> int:
    prepare_imports()
    import uvicorn

    _Server = _server_class()

    from .api.protocol import GuardedHttpTools, connection_cap, raise_fd_limit
    from .app import create_app
    from .observability.logs import configure

    configure(settings.log_level, settings.log_format)
    try:
        path = sqlite_path(settings.database_url)
        lock = lock_sqlite(path) if path is not None else None
        sock = _bind(settings.host, settings.port)
        generated = _preflight_in_child(settings)
    except ServeError as exc:
        print(f"schedo: {exc}", file=sys.stderr)
        return 1

    def show_key(key: str) -> None:
        print(
            "\n  Admin API key (shown once; keep it safe):\n\n"
            f"    {key}\n\n"
            "  Set SCHEDO_ADMIN_KEY to choose it yourself on a new database.\n",
            flush=True,
        )

    if generated is not None:
        show_key(generated)

    try:
        app = create_app(settings, on_admin_key=show_key, sealing_checked=True)
    except ValueError as exc:  # a setting only the app can check (SCHEDO_TRUSTED_PROXIES)
        print(f"schedo: {exc}", file=sys.stderr)
        sock.close()
        if lock is not None:
            lock.close()
        return 1
    fd_limit = raise_fd_limit()
    GuardedHttpTools.header_timeout = settings.header_timeout_seconds
    GuardedHttpTools.body_timeout = settings.body_timeout_seconds
    GuardedHttpTools.max_connections = connection_cap(fd_limit, settings.max_connections)
    config = uvicorn.Config(
        app,
        http=GuardedHttpTools,
        # no websocket route: an upgrade request is answered as the plain HTTP request it
        # also is, and uvicorn imports no websocket library (issue 18, idle RSS)
        ws="none",
        timeout_keep_alive=int(max(1, settings.keep_alive_seconds)),
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
        proxy_headers=False,  # X-Forwarded-For is believed only from SCHEDO_TRUSTED_PROXIES
    )
    logging.getLogger("schedo.http").info(
        "connections.limits fd_limit=%d max_connections=%d header_timeout=%gs "
        "body_timeout=%gs keep_alive=%gs", fd_limit, GuardedHttpTools.max_connections,
        settings.header_timeout_seconds, settings.body_timeout_seconds,
        settings.keep_alive_seconds,
    )
    server = _Server(config)
    print(
        f"schedo: serving on http://{settings.host}:{settings.port} "
        f"(database {make_url(settings.database_url).render_as_string()})",
        flush=True,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if lock is not None:
            lock.close()
    return 0 if server.started else 1
