"""A long poll ends, claiming nothing, when its client goes away or the server stops: a run
due afterwards stays pending for the next worker (api/pull.py ``_abort_when``, which starts
watching only once the poll has to wait)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from schedo.server.config import Settings
from schedo.server.runtime.clock import FakeClock
from tests.conftest import ADMIN_KEY, START
from tests.support.inprocess import in_process

ADMIN = {"x-api-key": ADMIN_KEY}


def _scope(query: bytes) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/jobs/executions", "raw_path": b"/jobs/executions",
        "root_path": "", "query_string": query, "client": ("127.0.0.1", 5000),
        "server": ("schedo.test", 80), "headers": [(b"x-api-key", ADMIN_KEY.encode())],
    }


async def _poll_ended_by(db_url: str, end: Callable[[Any, asyncio.Event], None]) -> None:
    settings = Settings(database_url=db_url, admin_key=ADMIN_KEY)
    async with in_process(settings, FakeClock(START)) as (app, client):
        r = await client.post("/jobs/definition", headers=ADMIN,
                              json={"name": "waiting-job", "schedule": "0 0 1 1 *"})
        job_id = r.json()["id"]
        gone = asyncio.Event()
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(msg: dict[str, Any]) -> None:
            sent.append(msg)

        poll = asyncio.create_task(app(_scope(b"jobs=waiting-job&wait=25"), receive, send))
        await asyncio.sleep(0.2)
        assert not poll.done()  # waiting for a run
        end(app, gone)
        await asyncio.wait_for(poll, 5)  # at once, not after 25 s
        assert sent[0]["status"] == 200 and sent[1]["body"] == b"[]"
        r = await client.post(f"/jobs/trigger/{job_id}", headers=ADMIN)
        assert r.status_code == 200
        await asyncio.sleep(0.1)  # were anything still polling, it would claim now
        r = await client.get(f"/jobs/executions/{job_id}", headers=ADMIN)
        assert [x["status"] for x in r.json()] == ["pending"]


async def test_a_long_poll_whose_client_went_away_claims_nothing(db_url: str) -> None:
    await _poll_ended_by(db_url, lambda app, gone: gone.set())


async def test_a_long_poll_ends_when_the_server_stops(db_url: str) -> None:
    await _poll_ended_by(db_url, lambda app, gone: app.state.services.bus.stopping.set())
