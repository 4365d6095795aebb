"""Out-of-range integers in request bodies are a 400, never a 500 (found by the fuzz test)."""

from __future__ import annotations

import httpx

from tests.hardening.conftest import HApi


async def test_huge_environment_id_when_creating_a_key_is_400(hapi: HApi) -> None:
    assert hapi.app is not None
    transport = httpx.ASGITransport(app=hapi.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://schedo.test") as c:
        r = await c.post("/apikeys", json={"environment_id": 2**70, "name": "k"},
                         headers=hapi.admin)
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith("environment_id")
