"""What ``Client`` and ``AsyncClient`` share: the request arguments of a ``Call``, the
connection error, the user agent and the settings both expose."""

from __future__ import annotations

from typing import Any

from . import calls
from .calls import Call
from .errors import ConnectionFailed


def _user_agent() -> str:
    from .. import __version__

    return f"schedo-python/{__version__}"


def _request_args(call: Call[Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if call.params is not None:
        args["params"] = dict(call.params)
    if call.has_body:
        args["json"] = call.body
    if call.headers:
        args["headers"] = dict(call.headers)
    if call.timeout is not None:
        args["timeout"] = call.timeout
    return args


def _failed(settings: calls.Settings, call: Call[Any], exc: Exception) -> ConnectionFailed:
    detail = str(exc) or type(exc).__name__
    return ConnectionFailed(
        f"{call.method} {settings.base_url}{call.path}: cannot reach the server ({detail})"
    )


class _Base:
    _settings: calls.Settings

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def environment_id(self) -> int | None:
        return self._settings.environment_id


