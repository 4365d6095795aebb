"""Sans-I/O description of every endpoint of SPEC 2.2, shared by ``Client`` and ``AsyncClient``.

Each function returns a ``Call``: method, path, query, body and the parser of the answer. The
two clients only differ in how they send it (``httpx.Client`` or ``httpx.AsyncClient``), so
each rule (which fields are sent, how an answer or an error is read) is written once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

from .errors import ApiError, ConfigurationError, SchedoError, error_for
from .models import ApiKey

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
WORKER_ID_HEADER = "x-schedo-worker-id"
ENVIRONMENT_HEADER = "X-API-ENVIRONMENT"
# what a request comes from, for the server's audit log: "cli" (the schedo commands) or "worker"
# (an SDK worker's definitions); informational, the API key stays the actor
VIA_HEADER = "x-schedo-via"
# Extra seconds a long poll may take beyond its ``wait`` before the client gives up on it.
POLL_SLACK = 15.0


class _NoBody:
    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Any = _NoBody()


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Mapping[str, str | int | float] | None = None
    body: Any = NO_BODY
    headers: Mapping[str, str] | None = None
    timeout: float | None = None  # overrides the client's timeout (long polls)

    @property
    def has_body(self) -> bool:
        return self.body is not NO_BODY


@dataclass(frozen=True, slots=True)
class Settings:
    api_key: str
    base_url: str
    environment_id: int | None
    timeout: float

    def headers(self, user_agent: str) -> dict[str, str]:
        h = {"x-api-key": self.api_key, "accept": "application/json", "user-agent": user_agent}
        if self.environment_id is not None:
            h[ENVIRONMENT_HEADER] = str(self.environment_id)
        return h


def resolve(
    api_key: str | None, base_url: str | None, environment_id: int | None, timeout: float
) -> Settings:
    """Arguments first, then ``SCHEDO_API_KEY`` / ``SCHEDO_BASE_URL`` /
    ``SCHEDO_ENVIRONMENT_ID``, then defaults."""
    key = api_key or os.environ.get("SCHEDO_API_KEY") or ""
    if not key:
        raise ConfigurationError(
            "no API key: pass api_key=... or set the SCHEDO_API_KEY environment variable"
        )
    url = (base_url or os.environ.get("SCHEDO_BASE_URL") or DEFAULT_BASE_URL).strip()
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"base_url: {url!r} is not an http(s) URL")
    env = environment_id
    if env is None and os.environ.get("SCHEDO_ENVIRONMENT_ID"):
        try:
            env = int(os.environ["SCHEDO_ENVIRONMENT_ID"])
        except ValueError:
            raise ConfigurationError("SCHEDO_ENVIRONMENT_ID: must be an integer") from None
    if timeout <= 0:
        raise ConfigurationError("timeout: must be positive")
    return Settings(api_key=key, base_url=url.rstrip("/"), environment_id=env, timeout=timeout)


# -- text the server can store -----------------------------------------------------------------

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` as valid Unicode, which UTF-8 (and so JSON on the wire) can carry: a lone
    surrogate (text decoded with ``surrogateescape``, e.g. ``os.fsdecode(b"\\xff")``, or a
    half of a UTF-16 pair) becomes U+FFFD, as undecodable bytes do elsewhere; a well-formed
    pair written as two code points becomes its character. Valid text is returned as is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return text
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return _LONE_SURROGATE.sub("\ufffd", joined)


def _clean(value: str | None) -> str | None:
    return clean_text(value) if isinstance(value, str) else value


# -- reading answers --------------------------------------------------------------------------


def _message(content: bytes, reason: str) -> str:
    try:
        data = json.loads(content)
    except ValueError:
        text = content.decode("utf-8", "replace").strip()
        return text[:500] if text else reason
    if isinstance(data, Mapping):
        for field in ("message", "detail", "error"):
            if field in data and data[field] is not None:
                value = data[field]
                return value if isinstance(value, str) else json.dumps(value)
    return json.dumps(data)[:500]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


def error_from(status: int, headers: Mapping[str, str], content: bytes, reason: str) -> ApiError:
    return error_for(status, _message(content, reason or f"HTTP {status}"), _retry_after(headers))


def decode(
    call: Call[T], status: int, headers: Mapping[str, str], content: bytes, reason: str = ""
) -> T:
    """The parsed answer of a 2xx, or the ``ApiError`` of any other status."""
    if not 200 <= status < 300:
        raise error_from(status, headers, content, reason)
    try:
        data = json.loads(content) if content else None
    except ValueError:
        raise ApiError(status, f"{call.method} {call.path}: the answer is not JSON") from None
    try:
        return call.parse(data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise SchedoError(
            f"{call.method} {call.path}: unexpected answer shape ({type(exc).__name__}: {exc})"
        ) from exc


# -- parsers ----------------------------------------------------------------------------------


def _list(item: Callable[[Mapping[str, Any]], T]) -> Callable[[Any], list[T]]:
    def parse(data: Any) -> list[T]:
        if not isinstance(data, list):
            raise TypeError(f"expected a list, got {type(data).__name__}")
        return [item(x) for x in data]

    return parse


def _obj(item: Callable[[Mapping[str, Any]], T]) -> Callable[[Any], T]:
    def parse(data: Any) -> T:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        return item(data)

    return parse


def _strings(data: Any) -> list[str]:
    if not isinstance(data, list):
        raise TypeError(f"expected a list, got {type(data).__name__}")
    return [str(x) for x in data]


def _first_key(data: Any) -> ApiKey:
    if isinstance(data, list):
        if not data:
            raise ValueError("empty list")
        data = data[0]
    return _obj(ApiKey.from_json)(data)


def _text(data: Any) -> str:
    return data if isinstance(data, str) else json.dumps(data)


def _integer(data: Any) -> int:
    if isinstance(data, bool) or not isinstance(data, int | str):
        raise TypeError(f"expected an integer, got {type(data).__name__}")
    return int(data)


def _id(value: int, what: str = "id") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what}: must be an integer, got {type(value).__name__}")
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(value: int | datetime | None) -> int | None:
    """Unix milliseconds; an aware datetime is converted exactly (naive means UTC)."""
    if value is None or isinstance(value, int):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(milliseconds=1)
