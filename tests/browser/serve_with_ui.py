"""``schedo serve`` with the dashboard mounted, for the browser tests.

It runs the real ``schedo`` command line (same options, preflight, lock and uvicorn setup); the
only change is that the app built by ``create_app`` gets ``schedo.server.web.mount`` applied
when it does not have the dashboard yet. Once ``create_app`` mounts the dashboard itself this
is exactly ``schedo serve``.

Usage: python tests/browser/serve_with_ui.py serve --port 8123 --db sqlite:///x.db
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from schedo.server import app as app_module
from schedo.server.web import mount

_create_app = app_module.create_app


def has_dashboard(app: FastAPI) -> bool:
    return any(getattr(r, "path", None) == "/ui/" for r in app.routes)


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    app = _create_app(*args, **kwargs)
    if not has_dashboard(app):
        mount(app)
    return app


def main() -> None:
    app_module.create_app = create_app  # serve() imports create_app when it runs
    from schedo.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
