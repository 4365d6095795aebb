"""Raw ASGI middleware for request bodies.

``BodyLimit``: the 1 MiB limit of SPEC 2, enforced before the body is parsed, so a huge or
endless body is cut off without being buffered.
``JsonBodies``: API bodies are JSON whatever the content-type says (``curl -d`` sends
form-urlencoded; some clients send none), so that a JSON body is read as JSON and anything
else is a clear "malformed JSON" 400 instead of a confusing shape error.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reply(send, 400, "content-length: not a number")
                    return
                if declared > self.max_bytes:
                    await _reply(send, 413, self._message())
                    return
        seen = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    # answer 413 now; the app sees a disconnect and whatever it sends is dropped
                    refused = True
                    if not started:
                        await _reply(send, 413, self._message())
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg: Message) -> None:
            nonlocal started
            if refused:
                return
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        await self.app(scope, limited_receive, guarded_send)

    def _message(self) -> str:
        return f"body: request body larger than {self.max_bytes} bytes"


async def _reply(send: Send, status: int, message: str) -> None:
    body = json.dumps({"message": message}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


JSON_TYPES = (b"application/json", b"multipart/form-data")


class JsonBodies:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            current = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
            if not current.lower().startswith(JSON_TYPES):
                scope = dict(scope)
                scope["headers"] = [*headers, (b"content-type", b"application/json")]
        await self.app(scope, receive, send)
