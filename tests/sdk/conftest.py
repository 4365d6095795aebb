"""A real ``schedo serve`` process shared by the SDK tests (the sync client needs a socket)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import schedo
from tests.support.server import ADMIN_KEY, ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("sdk-server")
    srv = ServerProcess(f"sqlite:///{workdir / 'schedo.db'}", workdir).start()
    try:
        yield srv
    finally:
        assert srv.stop() == 0, srv.log()
        assert "unhandled error" not in srv.log(), srv.log()  # no 500 answered


@pytest.fixture
def client(server: ServerProcess) -> Iterator[schedo.Client]:
    with schedo.Client(ADMIN_KEY, server.url) as c:
        yield c


@pytest.fixture
def name() -> str:
    """A job name no other test uses (the server is shared)."""
    return f"sdk-{uuid.uuid4().hex[:10]}"
