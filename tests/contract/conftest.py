"""Fixtures of the storage contract suite (tests/contract/test_store_*.py).

The store is built the way the app builds it (``Database(url)``, ``migrate(db)``,
``SqlStore(db, sealer)``) on the real database of ``db_url``: a SQLite file, and a fresh
PostgreSQL database when SCHEDO_TEST_POSTGRES_URL is set. Nothing is mocked and nothing goes
through HTTP or the services: each test calls the storage protocols of
``schedo.server.storage.contracts`` directly.

At teardown every store opened by the test is checked for leaked connections (no connection
may still be checked out of the read or the write engine's pool) before it is disposed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from schedo.server.storage.sql import SqlStore
from tests.contract.kit import Stores, World, build_world


@pytest.fixture
async def stores(db_url: str) -> AsyncIterator[Stores]:
    """Opens stores on the test's database (a second one plays a second server process);
    asserts at teardown that none of them leaked a connection."""
    opened = Stores(db_url)
    try:
        yield opened
    finally:
        leaks = await opened.close_all()
    assert not leaks, f"connections still checked out at teardown: {leaks}"


@pytest.fixture
async def store(stores: Stores) -> SqlStore:
    """The store of one server process, on a migrated, empty database."""
    return await stores.open()


@pytest.fixture
async def world(store: SqlStore) -> World:
    """A bootstrapped database with two tenants: organisation 1 (environments ``env`` and
    ``env2``) and another organisation (environment ``other_env``)."""
    return await build_world(store)
