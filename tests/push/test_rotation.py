"""Push deliveries during and after a signature key rotation (issue 22), end to end: a real
HTTP receiver on loopback sees both signatures (the new key's first) during the overlap and
only the new key's after it; the clock is the fake one, moved past the overlap's end."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from typing import Any

import pytest

from schedo import WebhookVerificationError, webhooks
from schedo.server.push.dispatcher import Dispatcher
from tests.conftest import Api
from tests.push.test_dispatcher import Receiver


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"allow_private_webhooks": True}


def _std(key: str, req: dict[str, Any]) -> str:
    h = req["headers"]
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + req["body"]
    return "v1," + base64.b64encode(hmac.new(key.encode(), signed, hashlib.sha256)
                                    .digest()).decode()


def _hex(key: str, req: dict[str, Any]) -> str:
    return hmac.new(key.encode(), req["body"], hashlib.sha256).hexdigest()


async def _push_once(api: Api, job_id: int) -> None:
    r = await api.client.post(f"/jobs/trigger/{job_id}", headers=api.admin)
    assert r.status_code == 200, r.text
    d = Dispatcher(api.svc)
    try:
        tasks = await d.dispatch_once(api.clock.now())
        assert len(tasks) == 1
        await asyncio.wait_for(asyncio.gather(*tasks), 20)
    finally:
        await d.client.aclose()


async def test_both_signatures_during_the_overlap_and_one_after(api: Api) -> None:
    receiver = Receiver()
    try:
        c = api.client
        old = (await c.get("/org/environments/1/webhook-secret", headers=api.admin)).json()[
            "webhook_signature_key"]
        receiver.secret = old
        job = await api.define(name="pushed", webhook_url=receiver.url("/ok"), blocking=False)
        r = await c.post("/org/environments/1/webhook-secret/rotate",
                         json={"overlap_seconds": 3600}, headers=api.admin)
        new = r.json()["webhook_signature_key"]

        await _push_once(api, job["id"])  # during the overlap
        during = receiver.requests[-1]
        assert during["valid"] is True  # a receiver still on the old key: both headers pass
        assert during["headers"]["webhook-signature"] == f"{_std(new, during)} {_std(old, during)}"
        assert during["headers"]["x-schedo-signature"] == _hex(old, during)
        for key in (old, new, [new, old]):
            webhooks.verify(during["body"], during["headers"], key,
                            now=api.clock.now().timestamp())

        api.clock.advance(3600)  # the overlap's end: the old key stops signing
        await _push_once(api, job["id"])
        after = receiver.requests[-1]
        assert after["headers"]["webhook-signature"] == _std(new, after)
        assert after["headers"]["x-schedo-signature"] == _hex(new, after)
        assert after["valid"] is False  # the old key no longer verifies
        webhooks.verify(after["body"], after["headers"], new, now=api.clock.now().timestamp())
        with pytest.raises(WebhookVerificationError):
            webhooks.verify(after["body"], after["headers"], old,
                            now=api.clock.now().timestamp())
        runs = (await c.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
        assert [x["status"] for x in runs] == ["completed", "completed"]
    finally:
        receiver.server.shutdown()


async def test_other_environments_keep_one_signature(api: Api) -> None:
    receiver = Receiver()
    try:
        c = api.client
        staging = (await c.post("/org/environments", json={"name": "staging"},
                                headers=api.admin)).json()
        receiver.secret = staging["webhook_signature_key"]
        key = await api.env_key(staging["id"])
        job = await api.define(headers=key, name="pushed", webhook_url=receiver.url("/ok"))
        await c.post("/org/environments/1/webhook-secret/rotate", headers=api.admin)
        r = await c.post(f"/jobs/trigger/{job['id']}", headers=key)
        assert r.status_code == 200
        d = Dispatcher(api.svc)
        try:
            await asyncio.wait_for(asyncio.gather(*await d.dispatch_once(api.clock.now())), 20)
        finally:
            await d.client.aclose()
        [req] = receiver.requests
        assert req["valid"] is True and " " not in req["headers"]["webhook-signature"]
    finally:
        receiver.server.shutdown()
