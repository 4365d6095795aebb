"""Notification mails through a real SMTP server (SPEC 4): one mail per turn, not per run."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from schedo.server.notify.sender import LEASE_SECONDS, MAX_TRIES, Notifier, retry_delay
from tests.notify.conftest import PUBLIC_URL, NotifyApi, SmtpServer


async def test_fail_fail_fail_succeed_sends_one_failing_and_one_recovered_mail(
    napi: NotifyApi, smtp_server: SmtpServer
) -> None:
    await napi.add_email("ops@example.com")
    job = await napi.define(name="nightly-report")
    runs = []
    for i in range(3):
        napi.clock.advance(60)
        runs.append(await napi.run(job["id"], False, error=f"boom <{i}> & co",
                                   output=f"line one\nrow count {i}"))
        await napi.send()
    napi.clock.advance(60)
    ok = await napi.run(job["id"], True, output="all good")
    await napi.send()
    for _ in range(3):  # nothing else is due, however often the loop runs
        napi.clock.advance(3600)
        assert await napi.send() == 0

    mails = smtp_server.mails
    assert [m.subject for m in mails] == [
        "[Schedo] nightly-report is failing",
        "[Schedo] nightly-report recovered",
    ]
    failing, recovered = mails
    assert failing.rcpt == ["ops@example.com"]
    assert failing.msg["To"] == "ops@example.com"
    assert failing.msg["From"] == "schedo@example.com"
    assert failing.msg["Auto-Submitted"] == "auto-generated"
    first = runs[0]
    text, html = failing.part("plain"), failing.part("html")
    link = f"{PUBLIC_URL}/ui/jobs/{job['id']}/runs/{first['id']}"
    for part in (text, html):
        assert "nightly-report" in part
        assert link in part
        assert "row count 0" in part  # the start of the output
        assert first["scheduled_for"] in part
        assert "attempt 1" in part
        assert "production (id 1)" in part
    assert "boom <0> & co" in text
    assert "boom &lt;0&gt; &amp; co" in html  # user data is escaped in HTML
    assert "<0>" not in html
    assert "failed" in text

    rtext = recovered.part("plain")
    assert "has recovered" in rtext
    assert f"{PUBLIC_URL}/ui/jobs/{job['id']}/runs/{ok['id']}" in rtext
    assert f"{PUBLIC_URL}/ui/jobs/{job['id']}/runs/{ok['id']}" in recovered.part("html")

    listed = await napi.notifications()
    assert [(n["kind"], n["execution_id"]) for n in listed] == [
        ("recovered", ok["id"]), ("failing", first["id"])]
    for n in listed:
        assert n["job_name"] == "nightly-report"
        assert n["deliveries"] == [{
            "channel": "email", "target": "ops@example.com", "status": "sent", "tries": 1,
            "last_error": None, "sent_at": n["deliveries"][0]["sent_at"],
        }]
        assert n["deliveries"][0]["sent_at"].endswith("Z")
    assert listed[1]["error"] == "boom <0> & co"
    assert listed[1]["status"] == "failed"
    assert listed[1]["created_at"].endswith("Z")


async def test_every_address_on_the_list_gets_the_mail(
    napi: NotifyApi, smtp_server: SmtpServer
) -> None:
    for a in ("a@example.com", "b@example.com", "c@example.com"):
        await napi.add_email(a)
    job = await napi.define(name="list-job")
    await napi.run(job["id"], False, error="nope")
    assert await napi.send() == 3
    assert sorted(m.rcpt[0] for m in smtp_server.mails) == [
        "a@example.com", "b@example.com", "c@example.com"]
    assert all(len(m.rcpt) == 1 for m in smtp_server.mails)  # one message per address


async def test_muted_job_sends_nothing(napi: NotifyApi, smtp_server: SmtpServer) -> None:
    await napi.add_email("ops@example.com")
    job = await napi.define(name="muted-job")
    r = await napi.client.patch(f"/jobs/mute/{job['id']}", json={"muted": True},
                                headers=napi.admin)
    assert r.status_code == 200, r.text
    await napi.run(job["id"], False, error="broken")
    await napi.run(job["id"], True)
    await napi.run(job["id"], False, error="broken again")
    await napi.send()
    assert smtp_server.mails == []
    assert await napi.notifications() == []


async def test_smtp_down_then_up_delivers_once(napi: NotifyApi, smtp_server: SmtpServer) -> None:
    await napi.add_email("ops@example.com")
    await napi.add_email("dev@example.com")
    job = await napi.define(name="flaky-mail")
    smtp_server.stop()
    await napi.run(job["id"], False, error="disk full")
    assert await napi.send() == 2  # tried, failed, kept for later
    [n] = await napi.notifications()
    for d in n["deliveries"]:
        assert (d["status"], d["tries"]) == ("pending", 1)
        assert "127.0.0.1" in d["last_error"]

    napi.clock.advance(retry_delay(1) - 1)
    assert await napi.send() == 0  # not due before the backoff ends
    napi.clock.advance(1)
    assert await napi.send() == 2  # second try, still down
    [n] = await napi.notifications()
    assert {d["tries"] for d in n["deliveries"]} == {2}

    smtp_server.start()
    napi.clock.advance(retry_delay(2) - 1)
    assert await napi.send() == 0
    napi.clock.advance(1)
    assert await napi.send() == 2
    for _ in range(5):
        napi.clock.advance(3600)
        assert await napi.send() == 0
    assert sorted(m.rcpt[0] for m in smtp_server.mails) == ["dev@example.com", "ops@example.com"]
    assert [m.subject for m in smtp_server.mails] == ["[Schedo] flaky-mail is failing"] * 2
    [n] = await napi.notifications()
    assert {(d["status"], d["tries"], d["last_error"]) for d in n["deliveries"]} == {
        ("sent", 3, None)}


async def test_a_refused_address_fails_alone(napi: NotifyApi, smtp_server: SmtpServer) -> None:
    smtp_server.handler.reject.add("nobody@example.com")
    for a in ("first@example.com", "nobody@example.com", "last@example.com"):
        await napi.add_email(a)
    job = await napi.define(name="bad-address")
    await napi.run(job["id"], False, error="x")
    await napi.send()
    assert sorted(m.rcpt[0] for m in smtp_server.mails) == [
        "first@example.com", "last@example.com"]
    [n] = await napi.notifications()
    state = {d["target"]: d for d in n["deliveries"]}
    assert state["nobody@example.com"]["status"] == "failed"
    assert state["nobody@example.com"]["tries"] == 1  # permanent: not retried
    assert "550" in state["nobody@example.com"]["last_error"]
    assert state["first@example.com"]["status"] == "sent"
    assert state["last@example.com"]["status"] == "sent"
    napi.clock.advance(7200)
    assert await napi.send() == 0


async def test_gives_up_after_max_tries(napi: NotifyApi, smtp_server: SmtpServer) -> None:
    await napi.add_email("ops@example.com")
    job = await napi.define(name="never-delivered")
    smtp_server.stop()
    await napi.run(job["id"], False, error="x")
    for _ in range(MAX_TRIES + 3):
        await napi.send()
        napi.clock.advance(3600)
    [n] = await napi.notifications()
    [d] = n["deliveries"]
    assert d["status"] == "failed"
    assert d["tries"] == MAX_TRIES
    assert d["last_error"].startswith(f"gave up after {MAX_TRIES} tries: ")


async def test_without_smtp_the_notification_is_still_recorded(napi_no_smtp: NotifyApi) -> None:
    api = napi_no_smtp
    await api.add_email("ops@example.com")
    job = await api.define(name="no-smtp-job")
    failed = await api.run(job["id"], False, error="it broke")
    [n] = await api.notifications()  # visible before the notifier even ran
    assert (n["kind"], n["execution_id"], n["error"]) == ("failing", failed["id"], "it broke")
    assert n["deliveries"] == []
    assert await api.send() == 1
    [n] = await api.notifications()
    assert n["deliveries"] == [{
        "channel": "email", "target": "ops@example.com", "status": "skipped", "tries": 0,
        "last_error": "SMTP not configured (SCHEDO_SMTP_URL is not set)", "sent_at": None,
    }]
    api.clock.advance(7200)
    assert await api.send() == 0


async def test_an_expired_run_counts_as_failing(napi: NotifyApi, smtp_server: SmtpServer) -> None:
    await napi.add_email("ops@example.com")
    job = await napi.define(name="never-picked", schedule="* * * * *", timeout_seconds=30)
    napi.clock.set(napi.clock.now().replace(minute=1))
    assert await napi.ticker.tick_once(napi.clock.now()) == 1
    napi.clock.advance(30)
    [expired] = await napi.reaper.reap_once(napi.clock.now())
    await napi.send()
    [mail] = smtp_server.mails
    assert mail.subject == "[Schedo] never-picked is failing"
    text = mail.part("plain")
    assert "expired" in text
    assert "not picked up within 30s" in text
    assert f"/jobs/{job['id']}/runs/{expired.id}" in text
    assert "2026-11-28T12:01:00Z" in text  # the scheduled instant
    assert "2026-11-28T12:01:30Z" in text  # when it ended
    # the next ticks expire too: still failing, no more mail
    for minute in (2, 3):
        napi.clock.set(napi.clock.now().replace(minute=minute, second=0))
        await napi.ticker.tick_once(napi.clock.now())
        napi.clock.advance(30)
        await napi.reaper.reap_once(napi.clock.now())
        await napi.send()
    assert len(smtp_server.mails) == 1
    [n] = await napi.notifications()
    assert (n["status"], n["kind"]) == ("expired", "failing")


async def test_two_senders_never_send_the_same_delivery(
    napi: NotifyApi, smtp_server: SmtpServer
) -> None:
    """Two notifiers (as in two server processes) racing over the same outbox."""
    addresses = [f"user{i}@example.com" for i in range(12)]
    for a in addresses:
        await napi.add_email(a)
    job = await napi.define(name="raced-job")
    await napi.run(job["id"], False, error="x")
    other = Notifier(napi.svc, concurrency=3)
    try:
        counts = await asyncio.gather(napi.send(), other.send_once(napi.clock.now()))
    finally:
        await other.aclose()
    assert sum(counts) == 12
    assert sorted(m.rcpt[0] for m in smtp_server.mails) == sorted(addresses)


async def test_a_crash_mid_send_retries_after_the_lease(
    napi: NotifyApi, smtp_server: SmtpServer
) -> None:
    await napi.add_email("ops@example.com")
    job = await napi.define(name="crashy-sender")
    await napi.run(job["id"], False, error="x")
    store, now = napi.svc.store, napi.clock.now()
    assert await store.fan_out(now, None, 10) == 1
    assert await store.fan_out(now, None, 10) == 0  # never twice
    [claimed] = await store.due_deliveries(now, 10)  # a sender claims it, then "dies"
    assert claimed.delivery.tries == 1
    assert await store.due_deliveries(now, 10) == []  # leased: nobody else takes it
    assert await napi.send() == 0
    napi.clock.advance(LEASE_SECONDS - 1)
    assert await napi.send() == 0
    napi.clock.advance(1)
    assert await napi.send() == 1
    assert len(smtp_server.mails) == 1
    [n] = await napi.notifications()
    assert (n["deliveries"][0]["status"], n["deliveries"][0]["tries"]) == ("sent", 2)
    napi.clock.advance(timedelta(hours=5).total_seconds())
    assert await napi.send() == 0
    assert len(smtp_server.mails) == 1


async def test_stale_news_is_skipped_not_sent(napi: NotifyApi, smtp_server: SmtpServer) -> None:
    """A notification whose turn comes more than a day late (the server was down) is not
    mailed; a fresh one still is."""
    await napi.add_email("ops@example.com")
    job = await napi.define(name="old-news")
    await napi.run(job["id"], False, error="x")
    napi.clock.advance(timedelta(hours=25).total_seconds())
    assert await napi.send() == 1
    assert smtp_server.mails == []
    [n] = await napi.notifications()
    [d] = n["deliveries"]
    assert (d["status"], d["tries"]) == ("skipped", 0)
    assert "more than 24 hours old" in d["last_error"]
    await napi.run(job["id"], True)
    await napi.send()
    assert [m.subject for m in smtp_server.mails] == ["[Schedo] old-news recovered"]


async def _fail_then_retry(napi: NotifyApi, code: str, retry_succeeds: bool) -> None:
    """Tick a job with one retry, fail its first attempt, and end the retry as told."""
    napi.clock.set(napi.clock.now().replace(minute=1, second=0))
    assert await napi.ticker.tick_once(napi.clock.now()) == 1
    r = await napi.client.get(f"/jobs/executions?jobs={code}&wait=0", headers=napi.admin)
    [first] = r.json()
    r = await napi.client.post(f"/jobs/executions/complete/{first['id']}",
                               json={"success": False, "error": "flaky"}, headers=napi.admin)
    assert r.status_code == 200, r.text
    await napi.send()
    napi.clock.advance(15)  # past the retry's backoff (10 s ± 20 %)
    r = await napi.client.get(f"/jobs/executions?jobs={code}&wait=0", headers=napi.admin)
    [retry] = r.json()
    assert (retry["attempt"], retry["trigger"]) == (2, "retry")
    r = await napi.client.post(f"/jobs/executions/complete/{retry['id']}",
                               json={"success": retry_succeeds, "error": "still"},
                               headers=napi.admin)
    assert r.status_code == 200, r.text
    await napi.send()


async def test_a_retry_that_succeeds_sends_no_mail(
    napi: NotifyApi, smtp_server: SmtpServer
) -> None:
    """A failed attempt that its job retries is not a failing run: the retry absorbs it."""
    await napi.add_email("ops@example.com")
    await napi.define(name="flaky-job", schedule="* * * * *", max_retries=1)
    await _fail_then_retry(napi, "flaky-job", retry_succeeds=True)
    assert smtp_server.mails == []
    assert await napi.notifications() == []


async def test_a_retry_that_fails_too_sends_one_mail(
    napi: NotifyApi, smtp_server: SmtpServer
) -> None:
    await napi.add_email("ops@example.com")
    await napi.define(name="broken-job", schedule="* * * * *", max_retries=1)
    await _fail_then_retry(napi, "broken-job", retry_succeeds=False)
    [mail] = smtp_server.mails
    assert mail.subject == "[Schedo] broken-job is failing"
    assert "attempt 2" in mail.part("plain")
    [n] = await napi.notifications()
    assert (n["kind"], n["attempt"]) == ("failing", 2)
