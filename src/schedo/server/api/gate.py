"""``ApiGate``: the three request checks of ``middleware.py`` as one ASGI layer (issue 18).

Behaviour is exactly ``RetryHint(BodyLimit(JsonBodies(app)))``, as the app stacked them before:
every error answer carries ``x-should-retry`` (the 413 of the body limit too); a body over
``max_bytes`` is refused by its ``content-length`` before anything is read, or cut off with a
413 once the bytes read pass the limit; API bodies are JSON whatever their content-type, and
one nested deeper than ``MAX_JSON_DEPTH`` is a 400. One layer instead of three saves two
coroutine frames per request and two wrappers per message sent (tests/hardening and
tests/api/test_gate.py check the answers).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .middleware import JSON_TYPES, PERMANENT, TRANSIENT, JsonBodies, _reply

_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HINTED = PERMANENT | TRANSIENT


def _hinted(send: Send) -> Send:
    """``send`` adding ``x-should-retry`` to an error answer that lacks it (``RetryHint``)."""

    async def hinted(msg: Message) -> None:
        if msg["type"] == "http.response.start" and msg["status"] in _HINTED:
            headers = list(msg.get("headers", []))
            if not any(k.lower() == b"x-should-retry" for k, _ in headers):
                headers.append(
                    (b"x-should-retry", b"false" if msg["status"] in PERMANENT else b"true")
                )
                msg = {**msg, "headers": headers}
        await send(msg)

    return hinted


class _Limited:
    """The body limit on one request (``BodyLimit``): a receive that stops at ``limit``
    bytes with a 413 (the app then sees a disconnect), and a send that drops whatever the
    app answers after that."""

    __slots__ = ("_receive", "_send", "limit", "message", "refused", "seen", "started")

    def __init__(self, receive: Receive, send: Send, limit: int, message: str) -> None:
        self._receive, self._send = receive, send
        self.limit, self.message = limit, message
        self.seen = 0
        self.started = self.refused = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        msg = await self._receive()
        if msg["type"] == "http.request":
            self.seen += len(msg.get("body", b""))
            if self.seen > self.limit:
                self.refused = True
                if not self.started:
                    await _reply(self._send, 413, self.message)
                return {"type": "http.disconnect"}
        return msg

    async def send(self, msg: Message) -> None:
        if self.refused:
            return
        if msg["type"] == "http.response.start":
            self.started = True
        await self._send(msg)


def _declared(scope: Scope, max_bytes: int) -> tuple[int, str, bytes]:
    """(0, "", content-type) for acceptable headers, else (status, message, b"")."""
    content_type = b""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                return 400, "content-length: not a number", b""
            if declared > max_bytes:
                return 413, _too_large(max_bytes), b""
        elif name == b"content-type" and not content_type:
            content_type = value
    return 0, "", content_type


def _too_large(max_bytes: int) -> str:
    return f"body: request body larger than {max_bytes} bytes"


class ApiGate:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _hinted(send)
        status, message, content_type = _declared(scope, self.max_bytes)
        if status:
            await _reply(send, status, message)
            return
        body = _Limited(receive, send, self.max_bytes, _too_large(self.max_bytes))
        app_receive: Receive = body.receive
        if scope["method"] in _WITH_BODY:
            if not scope["path"].startswith("/ui/"):  # the dashboard's forms are no JSON
                checked = await JsonBodies._checked(body.receive, body.send)
                if checked is None:
                    return
                app_receive = checked
            if not content_type.lower().startswith(JSON_TYPES):
                scope = dict(scope)
                scope["headers"] = [
                    *((k, v) for k, v in scope["headers"] if k != b"content-type"),
                    (b"content-type", b"application/json"),
                ]
        await self.app(scope, app_receive, body.send)
