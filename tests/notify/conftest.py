"""Fixtures for notification tests: a real SMTP server (aiosmtpd), a real loopback HTTP
receiver, and the in-process app with notification settings, driven on the fake clock."""

from __future__ import annotations

import email
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from schedo.server.config import Settings
from schedo.server.notify.sender import Notifier
from schedo.server.runtime.clock import FakeClock
from schedo.server.scheduler.reaper import Reaper
from schedo.server.scheduler.ticker import Ticker
from tests.conftest import ADMIN_KEY, START, Api
from tests.support.inprocess import in_process
from tests.support.server import free_port

PUBLIC_URL = "https://schedo.example.com"
MAIL_FROM = "schedo@example.com"


@dataclass
class Mail:
    rcpt: list[str]
    msg: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.msg["Subject"])

    def part(self, subtype: str) -> str:
        body = self.msg.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())


@dataclass
class Collector:
    """An aiosmtpd handler: keeps every accepted message; refuses RCPT for ``reject``."""

    reject: set[str] = field(default_factory=set)
    mails: list[Mail] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.reject:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        self.mails.append(Mail(rcpt=list(envelope.rcpt_tos), msg=msg))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on a fixed loopback port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = Collector()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def mails(self) -> list[Mail]:
        return self.handler.mails

    def start(self) -> None:
        assert self._controller is None
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


class HookReceiver:
    """A real HTTP server on loopback recording every POST; ``answers`` is a queue of status
    codes to answer with (then 200)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.received.append(Received(self.path, headers, body))
                status = outer.answers.pop(0) if outer.answers else 200
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/schedo"


@pytest.fixture
def hook_receiver() -> Iterator[HookReceiver]:
    r = HookReceiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


@dataclass
class NotifyApi(Api):
    """The in-process app plus the loops the tests drive by hand."""

    notifier: Notifier
    ticker: Ticker
    reaper: Reaper

    async def send(self) -> int:
        return await self.notifier.send_once(self.clock.now())

    async def add_email(self, address: str, headers: dict[str, str] | None = None) -> None:
        r = await self.client.post("/org/emails", json=address, headers=headers or self.admin)
        assert r.status_code == 200, r.text

    async def run(
        self, job_id: int, success: bool, headers: dict[str, str] | None = None, **report: Any
    ) -> dict[str, Any]:
        """Trigger a run of the job and complete it at once; return the execution."""
        h = headers or self.admin
        r = await self.client.post(f"/jobs/trigger/{job_id}", headers=h)
        assert r.status_code == 200, r.text
        r = await self.client.post(
            f"/jobs/executions/complete/{r.json()['id']}", json={"success": success, **report},
            headers=h,
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def notifications(
        self, headers: dict[str, str] | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        r = await self.client.get(f"/org/notifications?limit={limit}",
                                  headers=headers or self.admin)
        assert r.status_code == 200, r.text
        return list(r.json())


@asynccontextmanager
async def notify_app(db_url: str, **settings: Any) -> AsyncIterator[NotifyApi]:
    """Like tests/conftest.py's ``api``, with notification settings."""
    clock = FakeClock(START)
    settings.setdefault("public_url", PUBLIC_URL)
    settings.setdefault("mail_from", MAIL_FROM)
    async with in_process(Settings(database_url=db_url, admin_key=ADMIN_KEY, **settings),
                          clock) as (app, c):
        svc = app.state.services
        notifier = Notifier(svc)
        try:
            yield NotifyApi(
                client=c, svc=svc, clock=clock, admin={"x-api-key": ADMIN_KEY},
                notifier=notifier, ticker=Ticker(svc), reaper=Reaper(svc),
            )
        finally:
            await notifier.aclose()


@pytest.fixture
async def napi(db_url: str, smtp_server: SmtpServer) -> AsyncIterator[NotifyApi]:
    """The app with SMTP pointing at the test server."""
    async with notify_app(db_url, smtp_url=smtp_server.url) as a:
        yield a


@pytest.fixture
async def napi_no_smtp(db_url: str) -> AsyncIterator[NotifyApi]:
    async with notify_app(db_url) as a:
        yield a


@pytest.fixture
async def napi_hook(
    db_url: str, smtp_server: SmtpServer, hook_receiver: HookReceiver
) -> AsyncIterator[NotifyApi]:
    async with notify_app(
        db_url, smtp_url=smtp_server.url, notify_webhook_url=hook_receiver.url,
        allow_private_webhooks=True,
    ) as a:
        yield a
