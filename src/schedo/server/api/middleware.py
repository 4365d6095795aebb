"""Raw ASGI middleware for request bodies.

``BodyLimit``: the 1 MiB limit of SPEC 2, enforced before the body is parsed, so a huge or
endless body is cut off without being buffered.
``JsonBodies``: API bodies are JSON whatever the content-type says (``curl -d`` sends
form-urlencoded; some clients send none), so that a JSON body is read as JSON and anything
else is a clear "malformed JSON" 400 instead of a confusing shape error; a JSON body nested
deeper than ``MAX_JSON_DEPTH`` is refused (400) before it is parsed, so that nothing stored can
later make a response fail (serialisers stop at a few hundred levels).
``RetryHint``: every error answer says whether a client should resend (``x-should-retry``,
the header the hosted API's official clients obey): ``false`` for permanent errors (400,
401, 403, 404, 409, 413, 422), ``true`` for 429 and 503.

The app installs the three as one layer, ``api/gate.ApiGate`` (the same answers, tested
against this stack in tests/api/test_gate.py).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...limits import JSON_MAX_DEPTH


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: C901  (issue 17: to split)
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


MAX_JSON_DEPTH = JSON_MAX_DEPTH
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep ``body``'s arrays and objects nest, counted up to ``limit + 1``: cheap for
    ordinary bodies (fewer brackets than the limit need no scan), linear for any other."""
    if body.count(b"{") + body.count(b"[") <= limit:
        return 0
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub(b"", body)):
        depth += 1 if m.group() in (b"{", b"[") else -1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


# Python refuses to read an integer of more digits than this (CVE-2020-10735); FastAPI then
# answers a bare "There was an error parsing the body"
INT_DIGITS_MAX = sys.get_int_max_str_digits()
_DIGITS = re.compile(rb"\d{%d}" % (INT_DIGITS_MAX + 1))
# a whole integer literal: not part of a longer number, a fraction or an exponent
_LONG_INT = re.compile(rb"(?<![\d.eE+-])-?\d{%d,}(?![\d.eE])" % (INT_DIGITS_MAX + 1))


def long_integer(body: bytes) -> bool:
    """Whether ``body`` holds an integer literal (outside strings) longer than Python reads:
    no cost for a body without such a run of digits anywhere."""
    if _DIGITS.search(body) is None:
        return False
    return _LONG_INT.search(_STRING.sub(b"", body)) is not None


class JsonBodies:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            current = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
            if not scope["path"].startswith("/ui/"):  # the dashboard's forms are no JSON
                checked = await self._checked(receive, send)
                if checked is None:
                    return
                receive = checked
            if not current.lower().startswith(JSON_TYPES):
                scope = dict(scope)
                scope["headers"] = [*headers, (b"content-type", b"application/json")]
        await self.app(scope, receive, send)

    @staticmethod
    async def _checked(receive: Receive, send: Send) -> Receive | None:
        """Read the whole body (BodyLimit has capped it), refuse one nested too deep, and
        hand the app a receive that replays it. None when the answer was sent."""
        body, whole, replay = await buffered(receive)
        if whole and json_depth(body) > MAX_JSON_DEPTH:
            await _reply(send, 400, f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
            return None
        if whole and long_integer(body):
            await _reply(send, 400, f"body: a number longer than {INT_DIGITS_MAX} digits")
            return None
        return replay


async def buffered(receive: Receive) -> tuple[bytes, bool, Receive]:
    """The request's body read whole, whether it arrived whole (False: a disconnect or
    another message came first), and a receive that gives the same again (the body in one
    message, or that other message), then goes on as ``receive``."""
    chunks: list[bytes] = []
    first: Message | None = None
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            first = msg
            break
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            if first is not None:
                return first
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, first is None, replay


PERMANENT = frozenset({400, 401, 403, 404, 409, 413, 422})
TRANSIENT = frozenset({429, 503})


class RetryHint:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def hinted(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                status = msg["status"]
                if status in PERMANENT or status in TRANSIENT:
                    headers = list(msg.get("headers", []))
                    if not any(k.lower() == b"x-should-retry" for k, _ in headers):
                        value = b"false" if status in PERMANENT else b"true"
                        headers.append((b"x-should-retry", value))
                        msg = {**msg, "headers": headers}
            await send(msg)

        await self.app(scope, receive, hinted)
