"""Abuse limits: a token bucket per API key, and a cap on failed authentications per client
address. Both answer 429 with ``Retry-After`` and ``{"message": ...}``.

- **Per key** (``SCHEDO_RATE_LIMIT_PER_SECOND``, default 200/s, bucket
  ``SCHEDO_RATE_LIMIT_BURST`` 400; 0 disables): every authenticated request takes one token
  of its key's bucket.
- **Failed authentications per address** (``SCHEDO_AUTH_FAILURE_LIMIT`` 20 per
  ``SCHEDO_AUTH_FAILURE_WINDOW_SECONDS`` 60; 0 disables): a request whose ``x-api-key`` is
  unknown or wrong takes one token of its address's bucket (capacity 20, refilled at 20 per
  minute); while that bucket is empty every request from the address that needs a key gets
  429 *before the key is looked at*, so guessing cannot go on at full speed and a right
  guess is not told apart from a wrong one. A key that is genuine but revoked does not
  count (a forgotten worker must not lock its neighbours out); nor does a missing key.
- **The address** is the socket peer. ``X-Forwarded-For`` is believed only when the peer is
  in ``SCHEDO_TRUSTED_PROXIES`` (comma-separated CIDRs), and then the client is the
  right-most entry that is not itself a trusted proxy. IPv6 clients are counted per /64.

The limits live in this process's memory: with several processes (PostgreSQL scale-out)
each enforces its own share, so the effective limits are N times the settings behind a
load balancer that spreads a client over N processes. Memory is bounded (least recently
seen entries are forgotten beyond ``MAX_ENTRIES``).

Wiring: ``install(app, settings)`` overrides the ``principal`` dependency of every router
with ``limited_principal`` (``app.state.auth_guard``, called by ``deps.principal``), so no
route changes.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import FastAPI, Header, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from ..config import Settings
from ..domain.errors import Unauthorized
from ..services.auth import authenticate, is_revoked_key
from ..services.context import Principal
from . import deps

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ENTRIES = 100_000
ADDRESS_CACHE = 4_096  # client addresses remembered by (peer, X-Forwarded-For)


def parse_networks(spec: str) -> list[Network]:
    """``"10.0.0.0/8, 127.0.0.1"`` -> networks; a bad entry raises ValueError naming it."""
    out: list[Network] = []
    for part in spec.split(","):
        item = part.strip()
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            msg = f"SCHEDO_TRUSTED_PROXIES: {item!r} is not an address or CIDR"
            raise ValueError(msg) from None
    return out


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:5000"
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Sequence[Network]) -> bool:
    return any(ip.version == n.version and ip in n for n in nets)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address the limits count: the socket peer, or, when the peer is a trusted proxy,
    the right-most ``X-Forwarded-For`` entry that is not a trusted proxy. IPv6 addresses
    are reduced to their /64 (one end site), so one client cannot rotate through its
    prefix."""
    ip = _ip(peer) if peer else None
    if ip is None:
        return peer or "unknown"
    if forwarded_for and trusted and _trusted(ip, trusted):
        for entry in reversed(forwarded_for.split(",")):
            hop = _ip(entry)
            if hop is None:
                break  # garbage from the proxy: count the proxy's own view (the last good hop)
            ip = hop
            if not _trusted(hop, trusted):
                break
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class Buckets:
    """Token buckets by key: ``capacity`` tokens, refilled at ``rate`` per second."""

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float],
                 max_entries: int = MAX_ENTRIES) -> None:
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.max_entries = max_entries
        self._b: OrderedDict[object, _Bucket] = OrderedDict()

    def _level(self, key: object) -> _Bucket:
        now = self.clock()
        b = self._b.get(key)
        if b is None:
            b = _Bucket(self.capacity, now)
            self._b[key] = b
            if len(self._b) > self.max_entries:
                self._b.popitem(last=False)
        else:
            b.tokens = min(self.capacity, b.tokens + (now - b.at) * self.rate)
            b.at = now
            self._b.move_to_end(key)
        return b

    def take(self, key: object) -> float:
        """Take a token: 0.0 if one was there, else the seconds until one will be."""
        b = self._level(key)
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self.rate

    def wait(self, key: object) -> float:
        """Without taking: 0.0 if a token is there, else the seconds until one will be."""
        if key not in self._b:
            return 0.0
        b = self._level(key)
        return 0.0 if b.tokens >= 1.0 else (1.0 - b.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._b)


class Limiter:
    def __init__(
        self,
        *,
        per_second: float,
        burst: int,
        auth_failures: int,
        auth_window: float,
        trusted: Sequence[Network] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trusted = list(trusted)
        self._addresses: dict[tuple[str | None, str | None], str] = {}
        self.keys = (
            Buckets(max(1.0, float(burst) or per_second), per_second, clock)
            if per_second > 0 else None
        )
        self.failures = (
            Buckets(float(auth_failures), auth_failures / auth_window, clock)
            if auth_failures > 0 else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Limiter:
        return cls(
            per_second=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
            auth_failures=settings.auth_failure_limit,
            auth_window=settings.auth_failure_window_seconds,
            trusted=parse_networks(settings.trusted_proxies),
        )

    def address(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else None
        xff = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
        forwarded = ",".join(xff) if xff else None
        # every request asks (before its key is looked at): the parse of a peer seen before
        # is remembered (bounded; the trusted networks never change for a Limiter)
        known = self._addresses.get((peer, forwarded))
        if known is None:
            known = client_address(peer, forwarded, self.trusted)
            if len(self._addresses) >= ADDRESS_CACHE:
                self._addresses.clear()
            self._addresses[(peer, forwarded)] = known
        return known

    def blocked(self, address: str) -> float:
        """Seconds the address must wait after too many failed authentications (0: none)."""
        return self.failures.wait(address) if self.failures is not None else 0.0

    def failed(self, address: str) -> None:
        if self.failures is not None:
            self.failures.take(address)

    def take_key(self, key_id: int) -> float:
        return self.keys.take(key_id) if self.keys is not None else 0.0


def too_many(message: str, wait: float) -> StarletteHTTPException:
    """A 429 (the API's error handler renders ``{"message": ...}`` with the headers)."""
    seconds = max(1, math.ceil(wait))
    return StarletteHTTPException(
        429, detail=f"{message}; retry in {seconds}s", headers={"Retry-After": str(seconds)}
    )


def _metrics_hook(request: Request, name: str, *args: str) -> None:
    m = getattr(request.app.state, "metrics", None)
    if m is not None:
        getattr(m, name)(*args)


async def limited_principal(
    request: Request,
    x_api_key: Annotated[str | None, Header(alias="x-api-key")] = None,
    x_api_environment: Annotated[str | None, Header(alias="X-API-ENVIRONMENT")] = None,
) -> Principal:
    """``deps.principal`` behind both limits (installed as ``app.state.auth_guard``)."""
    limiter: Limiter = request.app.state.limiter
    address = limiter.address(request.scope)
    wait = limiter.blocked(address)
    if wait > 0:
        _metrics_hook(request, "rate_limited", "auth_failures")
        raise too_many("too many failed authentications from this address", wait)
    try:
        p = await authenticate(deps.services(request), x_api_key, x_api_environment)
    except Unauthorized:
        if x_api_key and not await is_revoked_key(deps.services(request), x_api_key):
            limiter.failed(address)
            _metrics_hook(request, "auth_failure")
        raise
    wait = limiter.take_key(p.key_id)
    if wait > 0:
        _metrics_hook(request, "rate_limited", "key")
        raise too_many("rate limit of this API key exceeded", wait)
    return p


def install(app: FastAPI, settings: Settings) -> Limiter:
    """Create the app's Limiter (``app.state.limiter``) and route every ``principal``
    dependency through it. Raises ValueError for a bad ``SCHEDO_TRUSTED_PROXIES``."""
    limiter = Limiter.from_settings(settings)
    app.state.limiter = limiter
    app.state.auth_guard = limited_principal  # deps.principal calls it
    return limiter
