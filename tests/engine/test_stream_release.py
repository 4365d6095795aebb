"""A stream whose client goes away mid-batch gives back the runs it never handed over
(issue 24, point 6): they are pending again for another worker, and the run that was handed
over is not (it may have reached the client: never twice)."""

from __future__ import annotations

import asyncio

from schedo.server.services import pull
from schedo.server.services.context import Principal
from tests.engine.conftest import Engine

ADMIN = Principal(key_id=1, org_id=1, env_id=1, admin=True, key_env_id=None)


async def test_a_broken_stream_releases_what_it_did_not_hand_over(engine: Engine) -> None:
    job = await engine.api.define(name="batch-job", schedule="0 0 1 1 *", timeout_seconds=30)
    made = [(await engine.api.client.post(f"/jobs/trigger/{job['id']}",
                                          headers=engine.api.admin)).json() for _ in range(5)]
    svc = engine.api.svc
    runs = pull.stream(svc, ADMIN, ["batch-job"], 10, "w1")
    first = await anext(runs)
    assert first is not None and first.id == made[0]["id"]
    await runs.aclose()  # the client went away after the first event
    for _ in range(50):  # the release runs in the background
        await asyncio.sleep(0.01)
        statuses = {e["id"]: e["status"] for e in await engine.runs(job["id"])}
        if list(statuses.values()).count("pending") == 4:
            break
    assert statuses[first.id] == "running"
    assert [statuses[m["id"]] for m in made[1:]] == ["pending"] * 4
    listed = await engine.runs(job["id"])
    assert all(e["pick_up_time"] is None for e in listed if e["status"] == "pending")
    # another worker gets exactly those four
    again = await engine.claim("batch-job")
    assert sorted(e["id"] for e in again) == sorted(m["id"] for m in made[1:])
    # and the job reads running (its latest run is running again)
    assert (await engine.job(job["id"]))["job"]["status"] == "running"
