"""Fixtures of the hardening tests: the app as ``create_app`` builds it, with limits,
OpenAPI error responses, metrics, the metered store and the retention loop."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from schedo.server.app import create_app
from schedo.server.config import Settings
from schedo.server.observability.metrics import Metrics
from schedo.server.runtime.clock import Clock, FakeClock
from tests.conftest import ADMIN_KEY, START, Api
from tests.support.inprocess import in_process


def hardened_app(  # the app as schedo serve builds it, for ThreadServer
    settings: Settings, clock: Clock | None = None, *, run_loops: bool = True
) -> FastAPI:
    """The app as ``schedo serve`` builds it (create_app wires the hardening in)."""
    return create_app(settings, clock, run_loops=run_loops)


@dataclass
class HApi(Api):
    app: FastAPI | None = None

    @property
    def metrics(self) -> Metrics:
        assert self.app is not None
        m: Metrics = self.app.state.metrics
        return m

    async def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """GET /metrics parsed: (sample name, sorted labels) -> value."""
        r = await self.client.get("/metrics")
        assert r.status_code == 200, r.text
        out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for fam in text_string_to_metric_families(r.text):
            for s in fam.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out


@asynccontextmanager
async def running(
    settings: Settings, clock: FakeClock, client_addr: tuple[str, int] = ("127.0.0.1", 50000)
) -> AsyncIterator[HApi]:
    async with in_process(settings, clock, client_addr) as (app, c):
        yield HApi(client=c, svc=app.state.services, clock=clock,
                   admin={"x-api-key": ADMIN_KEY}, app=app)


@pytest.fixture
async def hapi(db_url: str, settings_overrides: dict[str, object]) -> AsyncIterator[HApi]:
    settings = Settings(database_url=db_url, admin_key=ADMIN_KEY,
                        **settings_overrides)  # type: ignore[arg-type]
    async with running(settings, FakeClock(START)) as h:
        yield h


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class ThreadServer:
    """uvicorn serving an app in a thread of this process (the app's loops stay off, so
    nothing is ever sent to a URL a test or a fuzzer made up)."""

    def __init__(self, app: FastAPI) -> None:
        import uvicorn

        from tests.support.server import free_port

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", proxy_headers=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadServer:
        from tests.support.server import wait_until

        self.thread.start()
        wait_until(lambda: self.server.started, 30, what="uvicorn in a thread")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def thread_server_factory() -> Iterator[Any]:
    servers: list[ThreadServer] = []

    def make(app: FastAPI) -> ThreadServer:
        s = ThreadServer(app).__enter__()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.__exit__()
