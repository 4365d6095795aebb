"""The ASGI application: API routers at ``/`` and ``/api``, plus the background loops.

``create_app`` builds everything from a Settings object; the lifespan opens the database,
applies migrations, bootstraps organisation 1 and starts the ticker and the reaper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from .api import (
    audit,
    chains,
    channels,
    errors,
    executions,
    express,
    jobs,
    limits,
    live,
    notifications,
    openapi_auth,
    openapi_errors,
    ops,
    org,
    ping,
    pull,
    replay,
)
from .api import secrets as webhook_secret
from .api.gate import ApiGate
from .config import Settings
from .notify.invitations import mailer_for
from .notify.sender import Notifier
from .observability import metrics
from .observability.metrics_store import MeteredOutboundClient
from .push.dispatcher import Dispatcher
from .runtime.bus import Bus
from .runtime.clock import Clock, SystemClock
from .scheduler.reaper import Reaper
from .scheduler.retention import Retention
from .scheduler.ticker import Ticker
from .services.context import Services
from .services.tenants import bootstrap
from .storage.db import Database
from .storage.metered import MeteredStore
from .storage.migrate import migrate
from .storage.sealing import Sealer, load_sealer
from .web import mount as mount_dashboard

log = logging.getLogger("schedo.app")
Loop = Callable[[], Coroutine[Any, Any, None]]

# pull before executions before jobs: fixed paths win over /jobs/{id} and /jobs/executions/{id}
API_ROUTERS = [pull.router, live.router, executions.router, jobs.router, org.router,
               notifications.router, channels.router, replay.router, chains.router,
               audit.router, webhook_secret.router]


def _telemetry() -> TelemetryConfig | None:
    """FastAPI's native OpenTelemetry asks the global providers whether they are configured
    on every request (~2 % of a GET's CPU, issue 18); Schedo exports Prometheus metrics, so
    it is off unless the process is set up for OpenTelemetry (an ``OTEL_*`` variable, or
    FastAPI's ``FASTAPI_OTEL_AUTO_CONFIGURE``), where FastAPI's defaults apply as before."""
    if any(k.startswith("OTEL_") or k == "FASTAPI_OTEL_AUTO_CONFIGURE" for k in os.environ):
        return None
    return {"tracing": False, "metrics": False, "logs": False}

def sealer_for(settings: Settings) -> Sealer:
    """The sealer of webhook signature keys for these settings (storage/sealing.py).
    Raises SealError."""
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    return load_sealer(settings.database_url, key, settings.secret_key_file)


def create_app(
    settings: Settings,
    clock: Clock | None = None,
    *,
    run_loops: bool = True,
    on_admin_key: Callable[[str], None] | None = None,
    sealing_checked: bool = False,
) -> FastAPI:
    """``sealing_checked``: the caller ran ``prepare_sealing`` with these settings just
    before (``schedo serve`` does, in its start-up child), so the lifespan does not check the
    key again, which would load cryptography for nothing (storage/sealing.py)."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sealer = sealer_for(settings)  # before the database: a key problem is one clear error
        db = Database(settings.database_url, pool_size=settings.db_pool_size)
        await migrate(db)
        bus = Bus()
        loops: list[Loop] = []
        the_clock: Clock = clock or SystemClock()
        dsn = db.shared_dsn()
        if dsn is not None:
            from .runtime.pgbridge import DbClock, PgBridge

            if clock is None:
                db_clock = DbClock(dsn, settings.clock_skew_seconds)
                await db_clock.sync()
                the_clock = db_clock
                loops.append(db_clock.run)
            bridge = PgBridge(dsn, bus)
            bridge.install()
            loops.append(bridge.run)
        store = MeteredStore(db, app.state.metrics, sealer)
        resealed = 0 if sealing_checked else await store.prepare_sealing()
        if resealed:
            log.info("sealing.resealed environments=%d", resealed)
        svc = Services(store=store, clock=the_clock, settings=settings, bus=bus)
        boot = await bootstrap(svc, settings.admin_key)
        if boot.admin_key and on_admin_key:
            on_admin_key(boot.admin_key)
        app.state.services = svc
        app.state.mailer = mailer_for(settings)  # invitations (issue 22)
        app.state.loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[None]] = []
        if run_loops:
            push_client = MeteredOutboundClient(
                settings.allow_private_webhooks, metrics=app.state.metrics
            )
            loops += [
                Ticker(svc).run,
                Reaper(svc).run,
                Dispatcher(svc, client=push_client).run,
                Notifier(svc).run,
                Retention(svc).run,
            ]
            tasks = [asyncio.create_task(loop()) for loop in loops]
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await db.dispose()

    telemetry = _telemetry()
    app = FastAPI(
        title="Schedo",
        version="0.1.0",
        description="Self-hostable cron-job service, compatible with the Schedo HTTP API.",
        lifespan=lifespan,
        telemetry=telemetry,
        # no 307 from /jobs/ to /jobs: Starlette builds that Location from the Host header,
        # always http:// (a client following it behind a TLS proxy would resend its key in
        # clear); a path with a trailing slash is a 404 like any other unknown path
        redirect_slashes=False,
    )
    errors.install(app)
    app.include_router(ops.router)
    app.include_router(ping.router)  # /ping/...: heartbeat jobs, no API key
    for r in API_ROUTERS:
        app.include_router(r)
    for r in API_ROUTERS:
        app.include_router(r, prefix="/api", include_in_schema=False)
    mount_dashboard(app)  # /ui/..., GET / (browsers only), /static
    # the body limit, JSON bodies and the retry hint (api/middleware.py) in one layer
    app.add_middleware(ApiGate, max_bytes=settings.max_body_bytes)
    limits.install(app, settings)  # ValueError for a bad SCHEDO_TRUSTED_PROXIES
    openapi_auth.install(app)  # before openapi_errors, which caches the final document
    openapi_errors.install(app)
    metrics.install(app, settings.metrics_token)  # its middleware is the outermost
    # the hot routes beside FastAPI's router, innermost; not with OpenTelemetry on, whose
    # spans FastAPI makes in its router and dependency solver
    if settings.express_lane and telemetry is not None:
        express.install(app)
    return app
