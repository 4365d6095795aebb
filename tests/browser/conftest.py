"""Browser tests: Debian's Chromium driven by Playwright against a real server process.

Chromium comes from the system (``apt-get install chromium``); Playwright's own browser
download is never used. Without Chromium or Playwright the tests are skipped on a developer
machine and fail in CI (``CI`` set), so a missing install step cannot pass unnoticed.

Screenshots go to ``SCHEDO_SCREENSHOTS`` when it is set (``SCHEDO_SCREENSHOTS=docs/screenshots``
refreshes the README's pictures), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.server import ServerProcess

CHROMIUM = os.environ.get("SCHEDO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} not found (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing()
    if reason is None or os.environ.get("CI"):
        return  # in CI the tests run and fail loudly if the browser is missing
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason=reason))


class Receiver:
    """A loopback webhook receiver: POST ``/ok`` answers 200, POST ``/fail`` answers 500.
    ``GET /link?to=URL`` is a page of another site with a link to ``URL``."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                self.rfile.read(length)
                path = self.path.split("?")[0]
                receiver.hits[path] = receiver.hits.get(path, 0) + 1
                status, body = (
                    (200, b"ok from receiver") if path == "/ok" else (500, b"receiver says no")
                )
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                target = parse_qs(urlsplit(self.path).query).get("to", [""])[0]
                body = f'<!doctype html><a id="go" href="{escape(target)}">open</a>'.encode()
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    work = tmp_path_factory.mktemp("dashboard")
    srv = ServerProcess(
        f"sqlite:///{work / 'schedo.db'}",
        work,
        extra_env={"SCHEDO_ALLOW_PRIVATE_WEBHOOKS": "1"},
    ).start()
    yield srv
    code = srv.stop()
    assert code == 0, srv.log()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("SCHEDO_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
