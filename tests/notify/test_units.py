"""SMTP URL parsing, the retry schedule and the loop."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from schedo.server.notify.sender import MAX_TRIES, retry_delay
from schedo.server.notify.smtp import SmtpConfig, parse_smtp_url
from tests.notify.conftest import NotifyApi, SmtpServer


def test_parse_starttls_with_percent_encoded_credentials() -> None:
    cfg = parse_smtp_url("smtp://me%40corp.example:p%40ss%2Fw%3Ard@mail.example:587?starttls=1")
    assert cfg == SmtpConfig(
        host="mail.example", port=587, username="me@corp.example", password="p@ss/w:rd",
        use_tls=False, start_tls=True, validate_certs=True, timeout=20.0,
    )


def test_parse_defaults() -> None:
    smtps = parse_smtp_url("smtps://relay.example")
    assert (smtps.port, smtps.use_tls, smtps.start_tls, smtps.username) == (
        465, True, False, None)
    plain = parse_smtp_url("smtp://relay.example:25")
    assert (plain.port, plain.use_tls, plain.start_tls) == (25, False, None)
    assert parse_smtp_url("smtp://relay.example").port == 25
    assert parse_smtp_url("smtp://relay.example?starttls=1").port == 587
    off = parse_smtp_url("smtp://relay.example?starttls=0&verify=0&timeout=5")
    assert (off.start_tls, off.validate_certs, off.timeout) == (False, False, 5.0)
    assert "p@ss" not in parse_smtp_url("smtp://u:p%40ss@h").describe()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://relay.example", "scheme"),
        ("smtp://", "host"),
        ("smtp://relay.example:99999", "parse"),
        ("smtp://relay.example?starttls=maybe", "starttls"),
        ("smtp://relay.example?tls=1", "unknown option"),
        ("smtp://relay.example?timeout=0", "timeout"),
        ("smtp://relay.example?timeout=600", "timeout"),
        ("smtps://relay.example?starttls=1", "smtps"),
        ("smtp://relay.example/path", "path"),
    ],
)
def test_parse_refuses_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_smtp_url(url)


def test_retry_schedule() -> None:
    assert [retry_delay(t) for t in range(1, MAX_TRIES)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay(1000) == 3600


async def test_the_loop_sends_without_being_driven(
    napi: NotifyApi, smtp_server: SmtpServer
) -> None:
    await napi.add_email("ops@example.com")
    job = await napi.define(name="looped-job")
    task = asyncio.create_task(napi.notifier.run())
    try:
        await napi.run(job["id"], False, error="x")
        deadline = time.monotonic() + 10
        for _ in range(1000):  # wait for the condition, with a deadline
            if smtp_server.mails or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert [m.subject for m in smtp_server.mails] == ["[Schedo] looped-job is failing"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
