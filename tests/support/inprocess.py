"""The one way tests build the app in-process: the ASGI app as ``schedo serve`` builds it
(``create_app``, background loops off, a fake clock), inside its lifespan, with an httpx client
on it. Real server processes are ``tests/support/server.ServerProcess``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from schedo.server.app import create_app
from schedo.server.config import Settings
from schedo.server.runtime.clock import FakeClock

BASE_URL = "http://schedo.test"


@asynccontextmanager
async def in_process(
    settings: Settings, clock: FakeClock, client_addr: tuple[str, int] | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app (lifespan entered: migrated, bootstrapped) and a client that talks to it."""
    app = create_app(settings, clock=clock, run_loops=False)
    async with app.router.lifespan_context(app):
        kw = {} if client_addr is None else {"client": client_addr}
        transport = httpx.ASGITransport(app=app, **kw)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield app, client
