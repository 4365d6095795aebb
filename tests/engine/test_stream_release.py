"""A stream whose client goes away mid-batch gives back the runs it never handed over
(issue 24, point 6): they are pending again for another worker, and the run that was handed
over is not (it may have reached the client: never twice)."""

from __future__ import annotations

import asyncio

import pytest

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


async def test_a_stream_cancelled_during_its_claim_releases_what_the_claim_took(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client goes away while the stream's claim is in flight (Starlette cancels the
    stream at that await): the claim still ends, and what it took goes back to the pool
    rather than running for no one until its deadline."""
    job = await engine.api.define(name="mid-claim", schedule="0 0 1 1 *", timeout_seconds=30)
    made = [(await engine.api.client.post(f"/jobs/trigger/{job['id']}",
                                          headers=engine.api.admin)).json() for _ in range(3)]
    svc = engine.api.svc
    claimed, proceed = asyncio.Event(), asyncio.Event()
    real_claim = svc.store.claim

    async def slow_claim(*args: object, **kw: object) -> object:
        got = await real_claim(*args, **kw)  # type: ignore[arg-type]
        claimed.set()  # committed: the runs are running, held by this stream
        await proceed.wait()
        return got

    monkeypatch.setattr(svc.store, "claim", slow_claim)
    runs = pull.stream(svc, ADMIN, ["mid-claim"], 10, "w1")
    first = asyncio.ensure_future(anext(runs))
    await claimed.wait()
    first.cancel()  # the client went away during the claim
    with pytest.raises(asyncio.CancelledError):
        await first
    monkeypatch.setattr(svc.store, "claim", real_claim)
    proceed.set()  # the claim returns now, to no one
    for _ in range(100):  # the release runs in the background
        statuses = [e["status"] for e in await engine.runs(job["id"])]
        if statuses.count("pending") == 3:
            break
        await asyncio.sleep(0.01)
    assert statuses == ["pending"] * 3, statuses
    again = await engine.claim("mid-claim")
    assert sorted(e["id"] for e in again) == sorted(m["id"] for m in made)
