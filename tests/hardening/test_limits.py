"""Abuse limits: per-key token bucket and failed authentications per client address, both
429 with ``Retry-After`` and ``{"message"}``; X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import httpx
import pytest

from schedo.server.api.limits import Buckets, Limiter, client_address, parse_networks
from schedo.server.config import Settings
from schedo.server.runtime.clock import FakeClock
from tests.conftest import ADMIN_KEY, START
from tests.hardening.conftest import HApi, running, value

WRONG = {"x-api-key": "sk_this_is_not_a_key_0123456789"}


def _other(h: HApi, addr: str, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """A client of the same app from another socket address."""
    assert h.app is not None
    transport = httpx.ASGITransport(app=h.app, client=(addr, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://schedo.test",
                             headers=headers or {})


def _assert_429(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    assert set(r.json()) == {"message"}
    assert r.headers["x-should-retry"] == "true"  # the hosted client retries a 429
    wait = int(r.headers["retry-after"])
    assert wait >= 1
    return wait


# -- per key -------------------------------------------------------------------------------


async def test_key_rate_limit_answers_429_with_retry_after(db_url: str) -> None:
    settings = Settings(database_url=db_url, admin_key=ADMIN_KEY,
                        rate_limit_per_second=0.5, rate_limit_burst=3)
    async with running(settings, FakeClock(START)) as h:
        key = await h.env_key()  # the admin key spends one token here
        codes = [(await h.client.get("/jobs", headers=key)).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = await h.client.get("/jobs", headers=key)
        assert _assert_429(r) == 2  # one token every 2 s
        assert "rate limit" in r.json()["message"]
        # another key has its own bucket
        assert (await h.client.get("/jobs", headers=h.admin)).status_code == 200
        s = await h.scrape()
        assert value(s, "schedo_rate_limited_total", reason="key") == 1


async def test_zero_disables_the_key_rate_limit(db_url: str) -> None:
    settings = Settings(database_url=db_url, admin_key=ADMIN_KEY,
                        rate_limit_per_second=0, rate_limit_burst=1)
    async with running(settings, FakeClock(START)) as h:
        for _ in range(30):
            assert (await h.client.get("/jobs", headers=h.admin)).status_code == 200


# -- failed authentications per address ------------------------------------------------------


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"auth_failure_limit": 5, "auth_failure_window_seconds": 60,
            "trusted_proxies": "10.9.0.0/16"}


async def test_failed_auth_limit_blocks_the_address_even_for_a_valid_key(hapi: HApi) -> None:
    for _ in range(5):
        assert (await hapi.client.get("/jobs", headers=WRONG)).status_code == 401
    r = await hapi.client.get("/jobs", headers=WRONG)
    wait = _assert_429(r)
    assert 1 <= wait <= 12  # one more try every 12 s (5 per minute)
    assert "failed authentications" in r.json()["message"]
    # blocked before the key is looked at: a right key is not told apart from a wrong one
    assert (await hapi.client.get("/jobs", headers=hapi.admin)).status_code == 429
    # another address is not affected
    async with _other(hapi, "198.51.100.20") as other:
        assert (await other.get("/jobs", headers=hapi.admin)).status_code == 200
    s = await hapi.scrape()
    assert value(s, "schedo_auth_failures_total") == 5
    assert value(s, "schedo_rate_limited_total", reason="auth_failures") == 2


async def test_missing_key_and_revoked_genuine_key_do_not_count(hapi: HApi) -> None:
    r = await hapi.client.post("/apikeys", json={"environment_id": 1, "name": "old-worker"},
                               headers=hapi.admin)
    revoked = {"x-api-key": r.json()["key"]}
    await hapi.client.delete(f"/apikeys/revoke/{r.json()['id']}", headers=hapi.admin)
    for _ in range(10):
        assert (await hapi.client.get("/jobs", headers=revoked)).status_code == 401
        assert (await hapi.client.get("/jobs")).status_code == 401
    assert (await hapi.client.get("/jobs", headers=hapi.admin)).status_code == 200


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(hapi: HApi) -> None:
    # a client rotating X-Forwarded-For values is still one address: its socket's
    for i in range(5):
        spoof = {**WRONG, "x-forwarded-for": f"203.0.113.{i}"}
        assert (await hapi.client.get("/jobs", headers=spoof)).status_code == 401
    spoof = {**WRONG, "x-forwarded-for": "203.0.113.99"}
    _assert_429(await hapi.client.get("/jobs", headers=spoof))


async def test_forwarded_for_names_the_client_behind_a_trusted_proxy(hapi: HApi) -> None:
    async with _other(hapi, "10.9.0.5") as proxy:
        for _ in range(5):
            r = await proxy.get("/jobs", headers={**WRONG, "x-forwarded-for": "203.0.113.7"})
            assert r.status_code == 401
        # 203.0.113.7 is blocked behind the proxy ...
        r = await proxy.get("/jobs", headers={**hapi.admin, "x-forwarded-for": "203.0.113.7"})
        _assert_429(r)
        # ... but other clients of the same proxy are not, nor the proxy itself
        r = await proxy.get("/jobs", headers={**hapi.admin, "x-forwarded-for": "203.0.113.8"})
        assert r.status_code == 200
        assert (await proxy.get("/jobs", headers=hapi.admin)).status_code == 200
        # a client cannot hide behind a spoofed left-most entry: the proxy appended its peer
        r = await proxy.get("/jobs", headers={**hapi.admin,
                                              "x-forwarded-for": "1.2.3.4, 203.0.113.7"})
        _assert_429(r)


# -- units -------------------------------------------------------------------------------------


def test_client_address_rules() -> None:
    trusted = parse_networks("10.0.0.0/8, 192.0.2.1")
    assert client_address("203.0.113.5", "1.1.1.1", trusted) == "203.0.113.5"
    assert client_address("10.1.2.3", "1.1.1.1", trusted) == "1.1.1.1"
    assert client_address("10.1.2.3", "1.1.1.1, 10.2.2.2", trusted) == "1.1.1.1"
    assert client_address("10.1.2.3", "6.6.6.6, 1.1.1.1", trusted) == "1.1.1.1"
    assert client_address("10.1.2.3", "not-an-ip", trusted) == "10.1.2.3"
    assert client_address("10.1.2.3", None, trusted) == "10.1.2.3"
    assert client_address("192.0.2.1", "[2001:db8::1]:443", trusted) == "2001:db8::/64"
    assert client_address("2001:db8:0:0:aaaa::1", None, []) == "2001:db8::/64"
    assert client_address("::ffff:203.0.113.9", None, []) == "203.0.113.9"
    assert client_address(None, "1.1.1.1", trusted) == "unknown"
    with pytest.raises(ValueError, match="SCHEDO_TRUSTED_PROXIES"):
        parse_networks("10.0.0.0/8, nonsense")


def test_token_bucket_refills_and_is_bounded() -> None:
    now = [0.0]
    b = Buckets(capacity=2, rate=1.0, clock=lambda: now[0], max_entries=3)
    assert b.take("a") == 0 and b.take("a") == 0
    assert b.take("a") == pytest.approx(1.0)
    now[0] += 0.5
    assert b.wait("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert b.take("a") == 0
    for k in "bcdef":
        b.take(k)
    assert len(b) == 3  # least recently seen forgotten


def test_limiter_from_settings_disables_with_zero() -> None:
    lim = Limiter.from_settings(Settings(rate_limit_per_second=0, auth_failure_limit=0))
    for _ in range(1000):
        assert lim.take_key(1) == 0
        lim.failed("1.2.3.4")
    assert lim.blocked("1.2.3.4") == 0
