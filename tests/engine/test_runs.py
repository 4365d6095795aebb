"""Blocking, paused jobs, deadlines, retries, job status and exactly-once ticks (SPEC 3)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from schedo.server.domain import policies
from tests.engine.conftest import Engine


async def test_blocking_job_longer_than_its_interval_skips_and_never_overlaps(
    engine: Engine,
) -> None:
    """A blocking job on a 60 s schedule whose runs last 150 s: the ticks that fall inside a
    run are recorded as skipped; runs never overlap."""
    job = await engine.api.define(name="slow-blocking", schedule="* * * * *", blocking=True,
                                  timeout_seconds=600)
    running: dict[int, object] = {}  # exec id -> started at
    timeline = []
    t = engine.now
    end = t + timedelta(minutes=10)
    while engine.now < end:
        engine.advance(1)
        await engine.tick()
        for e in await engine.claim("slow-blocking"):
            assert not running, "a second run started while one was running"
            running[e["id"]] = engine.now
            timeline.append(("start", e["scheduled_for"]))
        for eid, started in list(running.items()):
            if engine.now - started >= timedelta(seconds=150):  # type: ignore[operator]
                await engine.complete(eid)
                del running[eid]
    execs = await engine.runs(job["id"])
    ran = [e for e in execs if e["status"] in ("completed", "running")]
    skipped = [e for e in execs if e["status"] == "skipped"]
    assert len(execs) == 10  # one execution per minute tick, none twice
    assert len({e["scheduled_for"] for e in execs}) == 10
    # runs start at 12:01, 12:04 (after 12:01+150 s = 12:03:30), 12:07, 12:10
    assert [e["scheduled_for"][11:16] for e in ran] == ["12:01", "12:04", "12:07", "12:10"]
    assert len(skipped) == 6
    assert all("still pending or running" in e["error"] for e in skipped)


async def test_non_blocking_job_overlaps(engine: Engine) -> None:
    await engine.api.define(name="overlapper", schedule="* * * * *", timeout_seconds=600)
    engine.at("2026-11-28T12:01:00Z")
    await engine.tick()
    assert len(await engine.claim("overlapper")) == 1
    engine.at("2026-11-28T12:02:00Z")
    await engine.tick()
    assert len(await engine.claim("overlapper")) == 1  # second run while the first runs


async def test_paused_job_creates_nothing_and_resume_starts_from_now(engine: Engine) -> None:
    job = await engine.api.define(name="pausable", schedule="*/5 * * * *")
    await engine.api.client.patch(f"/jobs/pause/{job['id']}", headers=engine.api.admin)
    await engine.step_to("2026-11-28T12:30:00Z", step=30)
    assert await engine.runs(job["id"]) == []
    engine.at("2026-11-28T12:31:00Z")
    r = await engine.api.client.patch(f"/jobs/resume/{job['id']}", headers=engine.api.admin)
    assert r.json()["next_run_at"] == "2026-11-28T12:35:00Z"
    await engine.step_to("2026-11-28T12:35:00Z", step=30)
    assert [e["scheduled_for"] for e in await engine.runs(job["id"])] == [
        "2026-11-28T12:35:00Z"]


async def test_pickup_deadline_is_min_of_timeout_and_60s(engine: Engine) -> None:
    short = await engine.api.define(name="short-timeout", schedule="* * * * *",
                                    timeout_seconds=30)
    long = await engine.api.define(name="long-timeout", schedule="* * * * *",
                                   timeout_seconds=300)
    engine.at("2026-11-28T12:01:00Z")
    await engine.tick()
    engine.at("2026-11-28T12:01:29.999000Z")
    assert await engine.reap() == []
    engine.at("2026-11-28T12:01:30Z")
    expired = await engine.reap()
    assert [e.job_code for e in expired] == ["short-timeout"]
    engine.at("2026-11-28T12:01:59.999000Z")
    assert await engine.reap() == []
    engine.at("2026-11-28T12:02:00Z")
    assert [e.job_code for e in await engine.reap()] == ["long-timeout"]
    for j in (short, long):
        first = (await engine.runs(j["id"]))[0]
        assert first["status"] == "expired" and "not picked up" in first["error"]
        assert (await engine.job(j["id"]))["job"]["status"] == "failed"


async def test_run_deadline_is_timeout_plus_grace(engine: Engine) -> None:
    job = await engine.api.define(name="hangs", schedule="* * * * *", timeout_seconds=20)
    engine.at("2026-11-28T12:01:02Z")
    await engine.tick()
    [ex] = await engine.claim("hangs")
    assert (await engine.job(job["id"]))["job"]["status"] == "running"
    engine.at("2026-11-28T12:01:26.999000Z")  # picked at :02, deadline :02 + 20 + 5
    assert await engine.reap() == []
    engine.at("2026-11-28T12:01:27Z")
    [gone] = await engine.reap()
    assert gone.id == ex["id"] and "no result reported" in (gone.error or "")
    # the dead worker's late report is refused; its result does not overwrite the expiry
    r = await engine.api.client.post(f"/jobs/executions/complete/{ex['id']}",
                                     json={"success": True}, headers=engine.api.admin)
    assert r.status_code == 409


async def test_retries_back_off_exponentially_and_stop_at_max(engine: Engine) -> None:
    job = await engine.api.define(name="flaky", schedule="0 * * * *", max_retries=3,
                                  timeout_seconds=30)
    engine.at("2026-11-28T13:00:00Z")
    await engine.tick()
    delays = []
    for attempt in range(1, 5):
        [ex] = await engine.claim("flaky")
        assert ex["attempt"] == attempt
        assert ex["trigger"] == ("schedule" if attempt == 1 else "retry")
        assert ex["scheduled_for"] == "2026-11-28T13:00:00Z"
        failed_at = engine.now
        await engine.complete(ex["id"], success=False, error="boom")
        execs = await engine.runs(job["id"])
        if attempt == 4:
            assert execs[-1]["status"] == "failed"  # max_retries used up: no 5th attempt
            break
        retry = engine.api.svc.store
        nxt = await retry.earliest_pending_due(1, ["flaky"], ["sdk"])
        assert nxt is not None
        delays.append((nxt - failed_at).total_seconds())
        # not claimable before its backoff ends
        engine.at((nxt - timedelta(milliseconds=1)).isoformat())
        assert await engine.claim("flaky") == []
        engine.at(nxt.isoformat())
    for i, d in enumerate(delays):
        base = policies.RETRY_BASE_SECONDS * 2**i
        assert base * 0.8 - 0.01 <= d <= base * 1.2 + 0.01, (i, d)
    detail = (await engine.job(job["id"]))["job"]
    assert detail["retry_count"] == 3 and detail["status"] == "failed"


def test_backoff_is_capped_at_ten_minutes() -> None:
    assert all(480 <= policies.retry_delay(n) <= 720 for n in range(7, 30))
    assert 8 <= policies.retry_delay(1) <= 12


async def test_expired_run_is_retried_and_retry_has_its_own_deadline(engine: Engine) -> None:
    job = await engine.api.define(name="expire-retry", schedule="0 * * * *", max_retries=1,
                                  timeout_seconds=10)
    engine.at("2026-11-28T13:00:00Z")
    await engine.tick()
    engine.at("2026-11-28T13:00:10Z")
    await engine.reap()
    execs = await engine.runs(job["id"])
    assert [(e["attempt"], e["status"]) for e in execs] == [(1, "expired"), (2, "pending")]
    engine.advance(10 * 1.2 + 10)  # past the backoff and the retry's own pick-up window
    await engine.reap()
    execs = await engine.runs(job["id"])
    assert [(e["attempt"], e["status"]) for e in execs] == [(1, "expired"), (2, "expired")]


async def test_job_status_follows_latest_non_skipped_run(engine: Engine) -> None:
    job = await engine.api.define(name="status-job", schedule="* * * * *", blocking=True)
    engine.at("2026-11-28T12:01:00Z")
    await engine.tick()
    assert (await engine.job(job["id"]))["job"]["status"] == "pending"
    [ex] = await engine.claim("status-job")
    assert (await engine.job(job["id"]))["job"]["status"] == "running"
    engine.at("2026-11-28T12:02:00Z")
    await engine.tick()  # skipped: blocking
    d = (await engine.job(job["id"]))["job"]
    assert d["status"] == "running" and d["last_run_at"] == "2026-11-28T12:01:00Z"
    await engine.complete(ex["id"])
    d = (await engine.job(job["id"]))["job"]
    assert d["status"] == "completed" and d["next_run_at"] == "2026-11-28T12:03:00Z"


async def test_ticking_twice_or_concurrently_creates_each_tick_once(engine: Engine) -> None:
    for i in range(30):
        await engine.api.define(name=f"dup-{i:02d}", schedule="* * * * * *")
    engine.at("2026-11-28T12:00:05Z")
    other = type(engine.ticker)(engine.api.svc)
    counts = await asyncio.gather(engine.tick(), other.tick_once(engine.now), engine.tick())
    assert sum(counts) == 30 * 5
    await engine.tick()
    for j in range(1, 31):
        execs = await engine.runs(j)
        assert [e["scheduled_for"][-3:-1] for e in execs] == ["01", "02", "03", "04", "05"]


async def test_every_is_anchored_at_definition(engine: Engine) -> None:
    engine.at("2026-11-28T12:00:07Z")
    job = await engine.api.define(name="every-90", schedule="@every 90s")
    assert job["next_run_at"] == "2026-11-28T12:01:37Z"
    await engine.step_to("2026-11-28T12:04:40Z", step=5)
    assert [e["scheduled_for"] for e in await engine.runs(job["id"])] == [
        "2026-11-28T12:01:37Z", "2026-11-28T12:03:07Z", "2026-11-28T12:04:37Z"]


async def test_many_due_jobs_are_ticked_in_batches(engine: Engine) -> None:
    """2,500 jobs due in the same second: three transactions of at most 1,000, not 2,500."""
    from schedo.server.domain.model import CatchUp, JobType
    from schedo.server.domain.records import JobSpec

    svc = engine.api.svc
    nra = datetime.fromisoformat("2026-11-28T12:01:00+00:00")
    for i in range(2500):
        spec = JobSpec(name=f"herd-{i:04d}", type=JobType.SDK, cron_expression="* * * * *",
                       timezone="UTC", catch_up=CatchUp.LATEST, blocking=False,
                       timeout_seconds=60, max_retries=0, metadata={}, webhook_url=None,
                       command=None)
        await svc.store.upsert_job(1, spec, engine.now, nra, True)
    calls: list[int] = []
    real_tick = svc.store.tick

    async def counting_tick(now, limit, planner, skip=()):  # type: ignore[no-untyped-def]
        res = await real_tick(now, limit, planner, skip)
        calls.append(res.jobs)
        return res

    svc.store.tick = counting_tick  # type: ignore[method-assign]
    engine.at("2026-11-28T12:01:00Z")
    assert await engine.tick() == 2500
    assert calls == [1000, 1000, 500]
