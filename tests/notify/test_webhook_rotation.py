"""The JSON notification webhook during a signature key rotation (issue 22): both
signatures (the new key's first) while the overlap runs, the new key's alone after it."""

from __future__ import annotations

from schedo import webhooks
from tests.notify.conftest import HookReceiver, NotifyApi, Received, SmtpServer
from tests.notify.test_webhook import check_signature, signature_key


async def test_notification_webhook_signed_with_both_keys_during_the_overlap(
    napi_hook: NotifyApi, hook_receiver: HookReceiver, smtp_server: SmtpServer
) -> None:
    api = napi_hook
    old = await signature_key(api)
    r = await api.client.post("/org/environments/1/webhook-secret/rotate",
                              json={"overlap_seconds": 600}, headers=api.admin)
    new = r.json()["webhook_signature_key"]
    job = await api.define(name="hooked-job")
    await api.run(job["id"], False, error="bad thing")
    await api.send()
    [during] = hook_receiver.received
    entries = during.headers["webhook-signature"].split(" ")
    assert len(entries) == 2
    # the old key's pair alone is exactly what a receiver on the old key checks
    check_signature(Received(during.path, {**during.headers,
                                               "webhook-signature": entries[1]}, during.body),
                    old)
    now = api.clock.now().timestamp()
    for key in (new, old):
        assert webhooks.verify(during.body, during.headers, key, now=now)["type"] == "job.failing"

    api.clock.advance(601)
    await api.run(job["id"], True, output="fine")
    await api.send()
    after = hook_receiver.received[-1]
    assert after.json()["type"] == "job.recovered"
    check_signature(after, new)
