"""The alert options of a definition (issue 19) through ``Client.define_job``,
``AsyncClient.define_job`` and ``@app.job``, against a real server: sent only when given,
carried by the job answer, refused by the server's rules with a 400 naming the field."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import schedo
from schedo import BadRequest, Schedo
from schedo.sdk import endpoints
from schedo.sdk.calls import Call
from tests.support.server import ADMIN_KEY, ServerProcess

NEVER = "0 0 1 1 *"
ALERTS: dict[str, Any] = {
    "alert_after_failures": 3, "max_duration_seconds": 600, "success_within_seconds": 93600,
    "pause_after_failures": 5, "remind_every_seconds": 7200,
}


def _channel(client: schedo.Client, name: str) -> str:
    body = {"name": name, "kind": "email", "addresses": ["ops@example.com"]}
    client.send(Call("POST", "/org/channels", dict, body=body))
    return name


def test_only_given_options_are_sent() -> None:
    plain = endpoints.define_job("j", NEVER).body
    assert not set(plain) & {*ALERTS, "channels"}
    body = endpoints.define_job("j", NEVER, channels=(), alert_after_failures=2).body
    assert body["channels"] == [] and body["alert_after_failures"] == 2
    assert "pause_after_failures" not in body


def test_client_define_job_sends_the_alert_options(client: schedo.Client, name: str) -> None:
    ops = _channel(client, f"{name}-ops")
    job = client.define_job(name, NEVER, command="true", channels=[ops], **ALERTS)
    assert {k: job.raw[k] for k in ALERTS} == ALERTS and job.raw["channels"] == [ops]
    again = client.get_job(job.id).job.raw
    assert {k: again[k] for k in ALERTS} == ALERTS and again["channels"] == [ops]
    with pytest.raises(BadRequest, match="channels"):
        client.define_job(name, NEVER, command="true", channels=["no-such-channel-x"])
    with pytest.raises(BadRequest, match="max_duration_seconds"):
        client.define_job(name, NEVER, command="true", max_duration_seconds=0)


async def test_async_client_and_app_job_send_the_alert_options(
    server: ServerProcess, client: schedo.Client, name: str
) -> None:
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        job = await c.define_job(name + "-a", NEVER, command="true", channels=[],
                                 pause_after_failures=2)
        assert job.raw["channels"] == [] and job.raw["pause_after_failures"] == 2
        assert job.raw["alert_after_failures"] in (None, 1)  # not given: the default

    ops = _channel(client, f"{name}-app")
    app = Schedo(ADMIN_KEY, server.url, poll_wait=2)
    app.job(name, NEVER, channels=(ops,), **ALERTS)(lambda ctx: None)
    assert app.jobs[name].alerts == {**ALERTS, "channels": [ops]}
    runner = asyncio.create_task(app.run_async())
    try:
        for _ in range(200):
            found = [j for j in client.list_jobs() if j.name == name]
            if found:
                break
            await asyncio.sleep(0.05)
    finally:
        app.stop()
        assert await asyncio.wait_for(runner, 20) == 0
    [defined] = found
    assert {k: defined.raw[k] for k in ALERTS} == ALERTS and defined.raw["channels"] == [ops]
