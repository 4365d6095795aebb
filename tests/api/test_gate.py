"""``ApiGate`` (api/gate.py) answers exactly as the three layers it replaced,
``RetryHint(BodyLimit(JsonBodies(app)))``: the same messages sent, the same body and
content-type seen by the app, for every kind of request body and error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schedo.server.api.gate import ApiGate
from schedo.server.api.middleware import BodyLimit, JsonBodies, RetryHint

LIMIT = 64
DEEP = b"[" * 40 + b"]" * 40


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    """Reads the body, answers with what it saw; status from the ``x-status`` header."""
    body = b""
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            break
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    headers = dict(scope["headers"])
    status = int(headers.get(b"x-status", b"200"))
    seen = json.dumps({"body": body.decode("latin-1"),
                       "ct": headers.get(b"content-type", b"").decode()}).encode()
    extra = [(b"x-should-retry", b"maybe")] if b"x-own-hint" in headers else []
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *extra]})
    await send({"type": "http.response.body", "body": seen})


async def _run(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]],
               chunks: list[bytes]) -> list[Any]:
    sent: list[Any] = []
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
             for i, c in enumerate(chunks)] or [{"type": "http.request", "body": b""}]

    async def receive() -> Any:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(msg: Any) -> None:
        sent.append(msg)

    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    await app(scope, receive, send)
    return sent


CASES: list[tuple[str, str, list[tuple[bytes, bytes]], list[bytes]]] = [
    ("GET", "/jobs", [], []),
    ("GET", "/jobs", [(b"x-status", b"404")], []),
    ("GET", "/jobs", [(b"x-status", b"429")], []),
    ("GET", "/jobs", [(b"x-status", b"500")], []),
    ("GET", "/jobs", [(b"x-status", b"409"), (b"x-own-hint", b"1")], []),
    ("POST", "/jobs/definition", [(b"content-type", b"application/json")], [b'{"a": 1}']),
    ("POST", "/jobs/definition", [(b"content-type", b"application/x-www-form-urlencoded")],
     [b"a=1"]),
    ("POST", "/jobs/definition", [(b"content-type", b"text/plain"),
                                  (b"content-type", b"application/json")], [b"{}"]),
    ("POST", "/jobs/definition", [(b"content-type", b"multipart/form-data; b=x")], [b"--x"]),
    ("POST", "/jobs/definition", [], [b'{"a":', b" 2}"]),
    ("PATCH", "/jobs/mute/1", [(b"content-length", b"abc")], [b"{}"]),
    ("PATCH", "/jobs/mute/1", [(b"content-length", b"65")], [b"x" * 65]),
    ("PATCH", "/jobs/mute/1", [(b"content-length", b"2"), (b"content-length", b"999")],
     [b"{}"]),
    ("POST", "/jobs/definition", [], [b"x" * 40, b"y" * 40]),
    ("GET", "/jobs", [], [b"x" * 40, b"y" * 40]),
    ("POST", "/jobs/definition", [], [DEEP]),
    ("DELETE", "/jobs/1", [], [b"[[[[]]]]"]),
    ("POST", "/ui/jobs/1/trigger", [(b"content-type", b"application/x-www-form-urlencoded")],
     [b"csrf=1&" + DEEP]),
    ("PUT", "/ui/x", [], [b"x" * 70]),
]


@pytest.mark.parametrize(("method", "path", "headers", "chunks"), CASES)
async def test_gate_sends_what_the_three_layers_sent(
    method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> None:
    old = RetryHint(BodyLimit(JsonBodies(_echo), max_bytes=LIMIT))
    new = ApiGate(_echo, max_bytes=LIMIT)
    before = await _run(old, method, path, headers, list(chunks))
    after = await _run(new, method, path, headers, list(chunks))
    assert after == before
    assert before  # every case answers


async def test_gate_passes_other_scopes_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await ApiGate(app, max_bytes=LIMIT)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]
