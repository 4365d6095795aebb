"""Suite-wide watch: no secret appears in any log captured at DEBUG (hardening issue).

Over the whole test run:

- every log record of the test process (in-process servers, SDK workers, the CLI) is rendered
  at DEBUG by the server's own JSON formatter, with the server's quiet-logger rules applied
  (``logs_hardening.quiet_secret_loggers``, as ``schedo serve`` does);
- every server started through ``tests.support.server.ServerProcess`` runs with
  ``SCHEDO_LOG_LEVEL=DEBUG`` and its log file is scanned at the end (the admin key banner,
  printed once by design when a key is generated, is cut out first);
- so is every ``*.log`` file the run's tests wrote below pytest's base temporary folder: the
  output of SDK workers, agents and other processes the tests started (at their own level);
- the secrets are gathered as they are made: every API key, webhook signature key and key
  pepper generated in the test process (``services.keys.new_key``/``new_secret``), every API
  key (``"key": "sk_…"``) and ``webhook_signature_key`` in a JSON response any httpx client
  received (keys of subprocess servers), the tests' fixed admin keys and the test sealing key.

The bodies of every response with status >= 400 that an httpx client of the suite received
are watched the same way (no secret in any error body).

At the end of the session a leak (a secret equal to a token of a log line or of an error
body) fails the run, as does a watch that saw no record at all. Matching is by whole token
(``[A-Za-z0-9_-]+``): a secret written in clear is such a token, whatever surrounds it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,}")
# an issued API key ("key" of a job is its name: only sk_… values are keys) or a signature key
SECRET_FIELD = re.compile(
    rb'"key"\s*:\s*"(sk_[A-Za-z0-9_\-]{16,})"|"webhook_signature_key"\s*:\s*"([A-Za-z0-9_\-]{16,})"'
)
BANNER = re.compile(r"Admin API key \(shown once[^\n]*\n\s*\n\s*(\S+)\n")


@dataclass
class SecretWatch:
    secrets: set[str] = field(default_factory=set)
    literal: set[str] = field(default_factory=set)  # non-token secrets: substring checks
    tokens: set[str] = field(default_factory=set)
    error_tokens: dict[str, str] = field(default_factory=dict)  # token -> "GET /path 404"
    errors: int = 0
    literal_hits: set[str] = field(default_factory=set)
    records: int = 0
    events: set[str] = field(default_factory=set)
    files: list[Path] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)  # every *.log below them is scanned too

    # -- what is secret --------------------------------------------------------------------
    def secret(self, value: str) -> str:
        if TOKEN.fullmatch(value):
            self.secrets.add(value)
        else:
            self.literal.add(value)
        return value

    def scan_response(self, content: bytes, status: int = 200, where: str = "") -> None:
        if status >= 400:
            self.errors += 1
            for t in TOKEN.findall(content.decode(errors="replace")):
                self.error_tokens.setdefault(t, f"{where} {status}")
            return
        for m in SECRET_FIELD.finditer(content):
            self.secrets.add((m.group(1) or m.group(2)).decode())

    def wrap(self, make: Callable[[], str]) -> Callable[[], str]:
        def recorded() -> str:
            return self.secret(make())

        return recorded

    # -- what was logged ---------------------------------------------------------------------
    def line(self, text: str, event: str | None = None) -> None:
        self.records += 1
        if event:
            self.events.add(event.split(" ", 1)[0])
        self.tokens.update(TOKEN.findall(text))
        for s in self.literal:
            if s in text:
                self.literal_hits.add(s)

    def scan_file(self, path: Path) -> None:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return
        text = BANNER.sub("Admin API key (shown once) <cut>\n", text)
        for ln in text.splitlines():
            self.line(ln)

    def leaks(self) -> list[str]:
        logs = [*self.files, *(f for r in self.roots for f in sorted(r.rglob("*.log")))]
        for f in dict.fromkeys(logs):  # a restarted server appends to its file
            self.scan_file(f)
        self.files.clear()
        found = (self.secrets & self.tokens) | self.literal_hits
        return sorted(s[:6] + "…" for s in found)

    def error_leaks(self) -> list[str]:
        return sorted(f"{s[:6]}… ({self.error_tokens[s]})"
                      for s in self.secrets & self.error_tokens.keys())


class WatchHandler(logging.Handler):
    def __init__(self, watch: SecretWatch, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.watch = watch
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a record that cannot be formatted: its raw parts, still scanned
            text = f"{record.msg!r} {record.args!r}"
        self.watch.line(text, str(record.msg) if record.name.startswith("schedo") else None)


def patch_httpx(watch: SecretWatch) -> None:
    import httpx

    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, **kw: Any) -> httpx.Response:
        resp = sync_send(self, request, **kw)
        if not kw.get("stream"):
            watch.scan_response(resp.content, resp.status_code,
                               f"{request.method} {request.url.path}")
        return resp

    async def asend(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> httpx.Response:
        resp = await async_send(self, request, **kw)
        if not kw.get("stream"):
            watch.scan_response(resp.content, resp.status_code,
                               f"{request.method} {request.url.path}")
        return resp

    httpx.Client.send = send  # type: ignore[method-assign]
    httpx.AsyncClient.send = asend  # type: ignore[method-assign]


def install(watch: SecretWatch, known: Iterable[str]) -> WatchHandler:
    """Start watching: the handler on the root logger at DEBUG, the key makers recorded."""
    from schedo.server.observability import logs
    from schedo.server.observability.logs_hardening import quiet_secret_loggers
    from schedo.server.services import keys

    for s in known:
        watch.secret(s)
    keys.new_key = watch.wrap(keys.new_key)  # type: ignore[method-assign]
    keys.new_secret = watch.wrap(keys.new_secret)  # type: ignore[method-assign]
    patch_httpx(watch)
    handler = WatchHandler(watch, logs.formatter("json"))
    attach(handler)
    quiet_secret_loggers()
    return handler


def attach(handler: logging.Handler) -> None:
    """(Re)attach the handler: a test that reconfigures logging may have removed it."""
    root = logging.getLogger()
    if handler not in root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)


WATCH = SecretWatch()
