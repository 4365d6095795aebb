"""The JSON notification channel: a signed POST to a real loopback receiver, once per turn."""

from __future__ import annotations

import base64
import hashlib
import hmac

from schedo.server.notify.sender import retry_delay
from tests.notify.conftest import PUBLIC_URL, HookReceiver, NotifyApi, Received, SmtpServer


def check_signature(req: Received, secret: str) -> None:
    """Verify both signatures with our own HMAC code (not the library under test)."""
    key = secret.encode()
    assert req.headers["x-schedo-signature"] == hmac.new(key, req.body, hashlib.sha256).hexdigest()
    wid, ts = req.headers["webhook-id"], req.headers["webhook-timestamp"]
    signed = f"{wid}.{ts}.".encode() + req.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert req.headers["webhook-signature"] == f"v1,{expected}"
    assert req.headers["content-type"] == "application/json"


async def signature_key(api: NotifyApi, env_id: int = 1) -> str:
    r = await api.client.get("/org/environments", headers=api.admin)
    [env] = [e for e in r.json() if e["id"] == env_id]
    return str(env["webhook_signature_key"])


async def test_webhook_gets_signed_json_once_per_turn(
    napi_hook: NotifyApi, hook_receiver: HookReceiver, smtp_server: SmtpServer
) -> None:
    api = napi_hook
    await api.add_email("ops@example.com")
    job = await api.define(name="hooked-job")
    fails = [await api.run(job["id"], False, error="bad thing", output="out")]
    await api.send()
    fails.append(await api.run(job["id"], False, error="bad again"))
    await api.send()
    ok = await api.run(job["id"], True, output="fine")
    await api.send()
    api.clock.advance(7200)
    assert await api.send() == 0

    secret = await signature_key(api)
    assert [r.path for r in hook_receiver.received] == ["/hooks/schedo"] * 2
    failing, recovered = hook_receiver.received
    for req in (failing, recovered):
        check_signature(req, secret)
    body = failing.json()
    [n_recovered, n_failing] = await api.notifications()
    assert failing.headers["webhook-id"] == f"ntf_{n_failing['id']}"
    assert recovered.headers["webhook-id"] == f"ntf_{n_recovered['id']}"
    assert body == {
        "type": "job.failing",
        "notification_id": n_failing["id"],
        "job_id": job["id"],
        "job_name": "hooked-job",
        "environment_id": 1,
        "execution_id": fails[0]["id"],
        "status": "failed",
        "attempt": 1,
        "scheduled_for": fails[0]["scheduled_for"],
        "ended_at": fails[0]["end_time"],
        "error": "bad thing",
        "output": "out",
        "url": f"{PUBLIC_URL}/ui/jobs/{job['id']}/runs/{fails[0]['id']}",
    }
    rbody = recovered.json()
    assert (rbody["type"], rbody["execution_id"], rbody["status"]) == (
        "job.recovered", ok["id"], "completed")
    # the mail went out too, and both channels are listed
    assert len(smtp_server.mails) == 2
    assert {(d["channel"], d["status"]) for d in n_failing["deliveries"]} == {
        ("email", "sent"), ("webhook", "sent")}
    assert {d["target"] for d in n_failing["deliveries"]} == {"ops@example.com",
                                                             hook_receiver.url}


async def test_webhook_error_is_retried_with_the_same_id(
    napi_hook: NotifyApi, hook_receiver: HookReceiver
) -> None:
    api = napi_hook
    hook_receiver.answers = [503]
    job = await api.define(name="retried-hook")
    await api.run(job["id"], False, error="x")
    await api.send()
    [n] = await api.notifications()
    [d] = n["deliveries"]
    assert (d["status"], d["tries"]) == ("pending", 1)
    assert d["last_error"].startswith("webhook answered HTTP 503")
    api.clock.advance(retry_delay(1))
    await api.send()
    first, second = hook_receiver.received
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"ntf_{n['id']}"
    check_signature(second, await signature_key(api))
    [n] = await api.notifications()
    assert (n["deliveries"][0]["status"], n["deliveries"][0]["tries"]) == ("sent", 2)


async def test_webhook_4xx_is_a_permanent_failure(
    napi_hook: NotifyApi, hook_receiver: HookReceiver
) -> None:
    api = napi_hook
    hook_receiver.answers = [410]
    job = await api.define(name="gone-hook")
    await api.run(job["id"], False, error="x")
    await api.send()
    api.clock.advance(7200)
    await api.send()
    assert len(hook_receiver.received) == 1
    [n] = await api.notifications()
    assert n["deliveries"][0]["status"] == "failed"
    assert "410" in n["deliveries"][0]["last_error"]


async def test_signed_with_the_jobs_own_environment_key(
    napi_hook: NotifyApi, hook_receiver: HookReceiver
) -> None:
    api = napi_hook
    r = await api.client.post("/org/environments", json={"name": "staging"}, headers=api.admin)
    env2 = r.json()["id"]
    staging = {**api.admin, "X-API-ENVIRONMENT": str(env2)}
    job = await api.define(headers=staging, name="staging-job")
    await api.run(job["id"], False, headers=staging, error="x")
    await api.send()
    [req] = hook_receiver.received
    assert req.json()["environment_id"] == env2
    check_signature(req, await signature_key(api, env2))
