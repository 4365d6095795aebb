"""Ping URLs are rate limited by the API's own limiter (issue 19): unknown ping URLs count
as failed authentications of the address, and each job's pings share a token bucket."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Api


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"auth_failure_limit": 3, "rate_limit_per_second": 0.01, "rate_limit_burst": 2}


async def test_guessing_and_flooding_are_limited(api: Api) -> None:
    job = await api.define(name="hb-job", type="heartbeat")
    url = f"/ping/{job['ping_uuid']}"
    assert [(await api.client.get(url)).status_code for _ in range(3)] == [200, 200, 429]
    r = await api.client.get(url)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    guesses = [(await api.client.get(f"/ping/{uuid.uuid4()}")).status_code for _ in range(4)]
    assert guesses == [404, 404, 404, 429]
    # the address is blocked now, even for a genuine URL (a right guess looks the same)
    assert (await api.client.get(url)).status_code == 429
