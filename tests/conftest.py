"""Shared fixtures: an in-process app on a real database, driven by a fake clock."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from schedo.server.config import Settings
from schedo.server.runtime.clock import FakeClock
from schedo.server.services import keys
from schedo.server.services.context import Services
from tests.support import secret_watch
from tests.support.inprocess import in_process
from tests.support.server import ADMIN_KEY as E2E_ADMIN_KEY
from tests.support.server import SECRET_KEY

ADMIN_KEY = "sk_test_admin_key_0123456789abcdef"
START = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
PG_URL = os.environ.get("SCHEDO_TEST_POSTGRES_URL")
# In-process servers seal webhook signature keys with this key (PostgreSQL has no default
# key file); tests of the key's own rules (tests/hardening/test_sealing.py) unset it.
os.environ.setdefault("SCHEDO_SECRET_KEY", SECRET_KEY)


# -- the suite-wide secret watch (tests/support/secret_watch.py) -------------------------------
_WATCH_HANDLER: secret_watch.WatchHandler | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _WATCH_HANDLER
    _WATCH_HANDLER = secret_watch.install(
        secret_watch.WATCH, [ADMIN_KEY, E2E_ADMIN_KEY, SECRET_KEY]
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _WATCH_HANDLER is not None:
        secret_watch.attach(_WATCH_HANDLER)


@pytest.fixture(scope="session", autouse=True)
def _watch_temp_logs(tmp_path_factory: pytest.TempPathFactory) -> None:
    secret_watch.WATCH.roots.append(tmp_path_factory.getbasetemp())


# Under pytest-xdist each worker watches its own tests and hands its totals to the controller
# (``workeroutput``), which judges the sum: one verdict for the run, as without xdist.
_WORKER_WATCHES: list[dict[str, Any]] = []


def _own_watch() -> dict[str, Any]:
    w = secret_watch.WATCH
    return {"records": w.records, "errors": w.errors, "tracked": len(w.secrets) + len(w.literal),
            "leaks": list(w.leaks()), "in_errors": list(w.error_leaks())}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    watch = getattr(node, "workeroutput", {}).get("secret_watch")
    if watch is not None:
        _WORKER_WATCHES.append(watch)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    own = _own_watch()
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller judges
        session.config.workeroutput["secret_watch"] = own  # type: ignore[attr-defined]
        return
    parts = [own, *_WORKER_WATCHES]
    records = sum(p["records"] for p in parts)
    errors = sum(p["errors"] for p in parts)
    tracked = max(p["tracked"] for p in parts)
    leaks = [x for p in parts for x in p["leaks"]]
    in_errors = [x for p in parts for x in p["in_errors"]]
    line = (f"secret watch: {records:,} log lines at DEBUG and {errors:,} error bodies, "
            f"{tracked:,} secrets tracked; in the logs: {leaks or 0}, "
            f"in error bodies: {in_errors or 0}")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    ran = session.testscollected or _WORKER_WATCHES
    if (leaks or in_errors or records == 0) and ran:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Tests that start real processes (servers, workers, agents, browsers, benchmarks) and wait on
# real time run one after another on one xdist worker (``--dist loadgroup``), beside the
# in-process tests on the other, so two of them never compete for the machine's cores at once.
_HEAVY_DIRS = ("e2e", "browser", "bench", "install")
_PROCESS_NAMES = ("ServerProcess", "subprocess", "Popen", "sync_playwright", "Worker")


def _starts_processes(item: pytest.Item) -> bool:
    parts = Path(str(item.fspath)).parts
    if "tests" in parts and parts[parts.index("tests") + 1] in _HEAVY_DIRS:
        return True
    module = getattr(item, "module", None)
    return any(hasattr(module, name) for name in _PROCESS_NAMES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _starts_processes(item):
            item.add_marker(pytest.mark.xdist_group("heavy"))


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


async def _fresh_pg_database(base: str, template: str | None = None) -> str:
    """A new PostgreSQL database for one test (dropped by the caller): empty, or a copy of
    ``template``."""
    import asyncpg

    u = make_url(base)
    name = f"schedo_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(
        user=u.username or "postgres", password=u.password, host=u.host or "127.0.0.1",
        port=u.port or 5432, database=u.database or "postgres",
    )
    try:
        copy = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    return u.set(database=name).render_as_string(hide_password=False)


async def _drop_pg_database(url: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(
        user=u.username or "postgres", password=u.password, host=u.host or "127.0.0.1",
        port=u.port or 5432, database="postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    finally:
        await conn.close()


# -- databases: each test gets its own, a copy of one migrated once per test process ----------
# Migrating a new database (12 Alembic revisions) took ~0.3 s of each in-process test's
# ~0.4 s (issue 18's CI time): each test now starts from a copy of a database this process
# migrated once (SQLite: the file; PostgreSQL: ``CREATE DATABASE … TEMPLATE``), which is what
# the app finds on an ordinary start (at head: no migration). A test that needs a database
# with nothing in it (the migrations' own tests, first starts) asks with
# ``@pytest.mark.empty_database``.


def _migrate_in_thread(url: str) -> None:
    """Migrate ``url`` to head with the app's own ``migrate`` (in a thread of its own: no
    event loop of a test is disturbed)."""
    import asyncio
    import threading

    from schedo.server.storage.db import Database
    from schedo.server.storage.migrate import migrate

    async def run() -> None:
        db = Database(url)
        try:
            await migrate(db)
        finally:
            await db.dispose()

    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # handed to the test that asked
            failure.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if failure:
        raise failure[0]


@dataclass
class _Templates:
    root: Path
    sqlite: Path | None = None
    postgresql: str | None = None

    def sqlite_file(self) -> Path:
        if self.sqlite is None:
            import sqlite3

            path = self.root / "template.db"
            _migrate_in_thread(f"sqlite:///{path}")
            with contextlib.closing(sqlite3.connect(path)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all in the main file
            self.sqlite = path
        return self.sqlite

    async def postgresql_name(self) -> str:
        if self.postgresql is None:
            assert PG_URL is not None
            url = await _fresh_pg_database(PG_URL)
            _migrate_in_thread(url)
            self.postgresql = make_url(url).database
        assert self.postgresql is not None
        return self.postgresql


@pytest.fixture(scope="session")
def _db_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    made = _Templates(tmp_path_factory.mktemp("db-template"))
    yield made
    if made.postgresql is not None and PG_URL is not None:
        import asyncio

        asyncio.run(_drop_pg_database(make_url(PG_URL).set(database=made.postgresql)
                                      .render_as_string(hide_password=False)))


@pytest.fixture(params=_backends())
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, _db_templates: _Templates
) -> AsyncIterator[str]:
    """A database of this test's own: migrated to head (a copy of the process's migrated
    template), or with nothing in it under ``@pytest.mark.empty_database``."""
    empty = request.node.get_closest_marker("empty_database") is not None
    if request.param == "sqlite":
        path = tmp_path / "schedo.db"
        if not empty:
            shutil.copyfile(_db_templates.sqlite_file(), path)
        yield f"sqlite:///{path}"
        return
    assert PG_URL is not None
    template = None if empty else await _db_templates.postgresql_name()
    url = await _fresh_pg_database(PG_URL, template)
    try:
        yield url
    finally:
        await _drop_pg_database(url)


@dataclass
class Api:
    """An in-process server: ``client`` talks to it, ``svc`` is its service container."""

    client: httpx.AsyncClient
    svc: Services
    clock: FakeClock
    admin: dict[str, str]

    async def env_key(self, env_id: int = 1, name: str = "test") -> dict[str, str]:
        r = await self.client.post(
            "/apikeys", json={"environment_id": env_id, "name": name}, headers=self.admin
        )
        assert r.status_code == 200, r.text
        return {"x-api-key": r.json()["key"]}

    async def define(self, headers: dict[str, str] | None = None, **body: object) -> dict:
        body.setdefault("schedule", "*/5 * * * *")
        r = await self.client.post("/jobs/definition", json=body, headers=headers or self.admin)
        assert r.status_code == 200, r.text
        return r.json()

    async def foreign_org(self) -> dict[str, str]:
        """An admin key of a second organisation (with its own environment)."""
        store, now = self.svc.store, self.clock.now()
        org = await store.create_org("Other org", now)
        await store.create_environment(org.id, "other-production", keys.new_secret(), now)
        secret = keys.new_key()
        await store.create_key(
            org_id=org.id, env_id=None, name="other-admin", prefix=keys.lookup_prefix(secret),
            digest=keys.digest(self.svc.pepper, secret), admin=True, internal=False, now=now,
        )
        return {"x-api-key": secret}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change the in-process server's settings."""
    return {}


@pytest.fixture
async def api(db_url: str, settings_overrides: dict[str, object]) -> AsyncIterator[Api]:
    clock = FakeClock(START)
    settings = Settings(database_url=db_url, admin_key=ADMIN_KEY,
                        **settings_overrides)  # type: ignore[arg-type]
    async with in_process(settings, clock) as (app, c):
        yield Api(client=c, svc=app.state.services, clock=clock, admin={"x-api-key": ADMIN_KEY})
