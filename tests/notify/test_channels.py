"""Alert channels and routing (issue 19) with real receivers: an aiosmtpd server for the
email channel, loopback HTTP servers for the signed JSON webhook and the Slack-compatible
incoming webhook; reminders while failing from the reaper on the fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.notify.conftest import (
    HookReceiver,
    NotifyApi,
    SmtpServer,
    notify_app,
)
from tests.notify.test_webhook import check_signature, signature_key


@pytest.fixture
def slack_receiver() -> Iterator[HookReceiver]:
    r = HookReceiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture
async def capi(db_url: str, smtp_server: SmtpServer) -> AsyncIterator[NotifyApi]:
    async with notify_app(db_url, smtp_url=smtp_server.url, allow_private_webhooks=True) as a:
        yield a


async def channel(api: NotifyApi, headers: dict[str, str] | None = None,
                  **body: object) -> dict:
    r = await api.client.post("/org/channels", json=body, headers=headers or api.admin)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_channel_routes_validate_and_stay_in_their_environment(capi: NotifyApi) -> None:
    api = capi
    c = await channel(api, name="ops-mail", kind="email",
                      addresses=["a@example.com", "a@example.com", "b@example.com"])
    assert c["addresses"] == ["a@example.com", "b@example.com"] and c["url"] is None
    for bad in ({"name": "x", "kind": "pager", "url": "https://e.com"},
                {"name": "x", "kind": "email", "addresses": []},
                {"name": "x", "kind": "email", "addresses": ["not-an-address"]},
                {"name": "x", "kind": "slack"},
                {"name": "x", "kind": "webhook", "url": "ftp://e.com/x"},
                {"name": "x", "kind": "slack", "url": "https://e.com", "addresses": ["a@b.co"]},
                {"name": "x", "kind": "email", "addresses": ["a@b.co"], "colour": "red"}):
        r = await api.client.post("/org/channels", json=bad, headers=api.admin)
        assert r.status_code == 400, (bad, r.text)
        assert r.headers["x-should-retry"] == "false"
    r = await api.client.post("/org/channels", headers=api.admin, json={
        "name": "ops-mail", "kind": "slack", "url": "https://hooks.example.com/x"})
    assert r.status_code == 409, r.text
    other = await api.foreign_org()
    for method in ("GET", "PUT", "DELETE"):
        r = await api.client.request(method, f"/org/channels/{c['id']}", headers=other,
                                     json={"name": "z", "kind": "slack",
                                           "url": "https://e.com/z"} if method == "PUT"
                                     else None)
        assert r.status_code == 404, (method, r.text)
    assert (await api.client.get("/org/channels", headers=other)).json() == []
    put = await api.client.put(f"/org/channels/{c['id']}", headers=api.admin, json={
        "name": "ops-mail", "kind": "email", "addresses": ["c@example.com"]})
    assert put.json()["addresses"] == ["c@example.com"]
    r = await api.client.post("/jobs/definition", headers=api.admin, json={
        "name": "routed-job", "schedule": "* * * * *", "channels": ["nope"]})
    assert r.status_code == 400 and "channels" in r.text
    assert (await api.client.delete(f"/org/channels/{c['id']}",
                                    headers=api.admin)).status_code == 200
    assert (await api.client.get(f"/org/channels/{c['id']}",
                                 headers=api.admin)).status_code == 404


async def test_notices_go_to_the_chosen_channels_each_delivered_once(
    capi: NotifyApi, smtp_server: SmtpServer, hook_receiver: HookReceiver,
    slack_receiver: HookReceiver,
) -> None:
    api = capi
    await api.add_email("org-list@example.com")  # not used once channels exist
    await channel(api, name="ops-mail", kind="email",
                  addresses=["ops@example.com", "dba@example.com"])
    await channel(api, name="signed-hook", kind="webhook", url=hook_receiver.url)
    await channel(api, name="team-chat", kind="slack", url=slack_receiver.url)
    everywhere = await api.define(name="all-channels-job")
    chat_only = await api.define(name="chat-only-job", channels=["team-chat"])
    assert chat_only["channels"] == ["team-chat"] and everywhere["channels"] is None
    slack_receiver.answers = [503]  # the first try fails: retried from the outbox
    await api.run(everywhere["id"], False, error="disk full")
    await api.run(chat_only["id"], False, error="timeout")
    await api.send()
    api.clock.advance(31)
    await api.send()
    api.clock.advance(3600)
    assert await api.send() == 0

    assert sorted(r for m in smtp_server.mails for r in m.rcpt) == [
        "dba@example.com", "ops@example.com"]
    assert all("all-channels-job" in m.subject for m in smtp_server.mails)
    [signed] = hook_receiver.received
    check_signature(signed, await signature_key(api))
    assert signed.json()["type"] == "job.failing"
    texts = [r.json()["text"].splitlines()[0] for r in slack_receiver.received]
    # the receiver refuses its first request (503): whichever notice that was went twice
    refused = texts[0]
    assert sorted(texts) == sorted([refused, 'Schedo: job "all-channels-job" is failing',
                                    'Schedo: job "chat-only-job" is failing'])
    notes = {n["job_name"]: n for n in await api.notifications()}
    chat = notes["chat-only-job"]["deliveries"]
    assert [(d["channel"], d["status"]) for d in chat] == [("slack", "sent")]
    full = {(d["channel"], d["target"]): d for d in notes["all-channels-job"]["deliveries"]}
    assert set(full) == {("email", "ops@example.com"), ("email", "dba@example.com"),
                         ("webhook", hook_receiver.url), ("slack", slack_receiver.url)}
    slack_tries = {"all-channels-job": full[("slack", slack_receiver.url)]["tries"],
                   "chat-only-job": chat[0]["tries"]}
    assert full[("slack", slack_receiver.url)]["status"] == "sent"
    assert sorted(slack_tries.values()) == [1, 2]
    assert slack_tries["all-channels-job" if "all-channels" in refused else "chat-only-job"] == 2


async def test_reminders_while_failing_and_muted_jobs_send_nothing(
    capi: NotifyApi, slack_receiver: HookReceiver,
) -> None:
    api = capi
    await channel(api, name="team-chat", kind="slack", url=slack_receiver.url)
    job = await api.define(name="nagging-job", remind_every_seconds=3600)
    quiet = await api.define(name="quiet-job", remind_every_seconds=3600)
    await api.client.patch(f"/jobs/mute/{quiet['id']}", json={"muted": True},
                           headers=api.admin)
    await api.run(job["id"], False, error="first")
    await api.run(quiet["id"], False, error="first")
    api.clock.advance(3599)
    await api.reaper.reap_once(api.clock.now())
    await api.run(job["id"], False, error="second")
    api.clock.advance(2)
    await api.reaper.reap_once(api.clock.now())
    api.clock.advance(3600)  # no new run since the last reminder: none
    await api.reaper.reap_once(api.clock.now())
    await api.run(job["id"], True)
    api.clock.advance(7200)  # recovered: reminders stop
    await api.reaper.reap_once(api.clock.now())
    await api.send()
    kinds = [(n["job_name"], n["kind"]) for n in reversed(await api.notifications())]
    assert kinds == [("nagging-job", "failing"), ("nagging-job", "reminder"),
                     ("nagging-job", "recovered")]
    [_, reminder, _] = reversed(await api.notifications())
    assert reminder["error"] == ("still failing: 2 failed run(s) in a row; "
                                 "the last ended failed: second")
    firsts = sorted(r.json()["text"].splitlines()[0] for r in slack_receiver.received)
    assert firsts == sorted(['Schedo: job "nagging-job" is failing',
                      'Schedo: job "nagging-job" is still failing',
                      'Schedo: job "nagging-job" has recovered'])  # sent concurrently
