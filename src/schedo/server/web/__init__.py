"""The dashboard: server-rendered pages (Jinja2 + htmx) under ``/ui/``, static files under
``/static``. It calls the same services as the API. ``mount(app)`` adds it to an app.

Pages: ``/ui/`` overview, ``/ui/jobs`` jobs table, ``/ui/jobs/{id}`` one job,
``/ui/jobs/{id}/runs/{execution_id}`` one run, ``/ui/new`` new job of any type,
``/ui/jobs/{id}/edit`` its settings, ``/ui/settings``, ``/ui/people``, ``/ui/sessions``,
``/ui/invitation/{token}``,
``/ui/login``, ``/ui/login/oidc`` (OIDC sign-in).
``GET /`` sends browsers to ``/ui/``. See docs/dashboard.md.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from . import (
    pages_auth,
    pages_jobs,
    pages_new,
    pages_oidc,
    pages_people,
    pages_secrets,
    pages_settings,
)
from .render import STATIC

ROUTERS = [pages_auth.router, pages_new.router, pages_secrets.router, pages_settings.router,
           pages_people.router, pages_oidc.router, pages_jobs.router]


def mount(app: FastAPI) -> None:
    """Add the dashboard's routes and its static files to ``app``."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")


__all__ = ["mount"]
