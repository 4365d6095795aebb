"""``Limiter.address`` remembers the parse of a client address (issue 18): the answers are
those of ``client_address`` for every peer and X-Forwarded-For, and the memory is bounded."""

from __future__ import annotations

from typing import Any

from schedo.server.api import limits
from schedo.server.api.limits import Limiter, client_address, parse_networks

TRUSTED = "10.0.0.0/8, 2001:db8::/32"


def _scope(peer: str | None, *xff: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", v.encode()) for v in xff]
    return {"client": (peer, 4000) if peer else None, "headers": headers}


def test_address_answers_as_client_address_every_time() -> None:
    lim = Limiter(per_second=0, burst=0, auth_failures=20, auth_window=60,
                  trusted=parse_networks(TRUSTED))
    cases = [(None,), ("203.0.113.7",), ("10.1.2.3", "198.51.100.9"),
             ("10.1.2.3", "198.51.100.9, 10.9.9.9"), ("10.1.2.3", "garbage"),
             ("203.0.113.7", "198.51.100.9"), ("2001:db8::5", "2001:db9::1:2:3:4"),
             ("::ffff:192.0.2.1",), ("10.1.2.3", "198.51.100.9", "192.0.2.44")]
    for _ in range(3):
        for peer, *xff in cases:
            want = client_address(peer, ",".join(xff) if xff else None, lim.trusted)
            assert lim.address(_scope(peer, *xff)) == want, (peer, xff)
    assert lim.address(_scope("10.1.2.3", "198.51.100.9")) == "198.51.100.9"
    assert lim.address(_scope("2001:db8::5", "2001:db9::1:2:3:4")) == "2001:db9::/64"


def test_remembered_addresses_are_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(limits, "ADDRESS_CACHE", 8)
    lim = Limiter(per_second=0, burst=0, auth_failures=20, auth_window=60)
    for i in range(50):
        assert lim.address(_scope(f"192.0.2.{i}")) == f"192.0.2.{i}"
        assert len(lim._addresses) <= 8
