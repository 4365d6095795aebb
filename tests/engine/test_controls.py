"""Scheduling controls through the API and the ticker with the fake clock (docs/semantics.md
"Spreading: H fields and jitter", "Timed pause and skips")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from schedo.server.domain import hashed
from schedo.server.domain.timefmt import rfc3339
from tests.engine.conftest import Engine


async def test_h_schedule_resolves_per_job_and_ticks_at_the_resolved_minute(
    engine: Engine,
) -> None:
    engine.at("2026-11-28T12:00:30Z")
    job = await engine.api.define(name="spread-report", schedule="H * * * *")
    resolved = hashed.resolve("H * * * *", hashed.seed_of(job["environment_id"], job["name"]))
    minute = int(resolved.split()[0])
    assert job["cron_expression"] == "H * * * *"
    assert job["resolved_cron"] == resolved
    first = datetime(2026, 11, 28, 12, minute, tzinfo=UTC)
    if first <= engine.now:
        first += timedelta(hours=1)
    assert job["next_run_at"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
    # redefining the same schedule keeps next_run_at; the same name in another environment
    # resolves on its own
    again = await engine.api.define(name="spread-report", schedule="H * * * *")
    assert again["next_run_at"] == job["next_run_at"]
    await engine.step_to((first + timedelta(hours=1, seconds=1)).isoformat(), step=60)
    assert [e["scheduled_for"] for e in await engine.runs(job["id"])] == [
        (first + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in (0, 1)]
    plain = await engine.api.define(name="plain-report", schedule="0 * * * *")
    assert plain["resolved_cron"] == "0 * * * *" and plain["jitter_seconds"] == 0


async def test_bad_h_and_jitter_are_400s(engine: Engine) -> None:
    for body, message in (
        ({"schedule": "H(50-70) * * * *"}, "schedule: minute field: 70 in 'H(50-70)'"),
        ({"schedule": "* * * * *", "jitter_seconds": 3601}, "jitter_seconds: must be between"),
        ({"schedule": "* * * * *", "jitter_seconds": -1}, "jitter_seconds: must be between"),
    ):
        r = await engine.api.client.post("/api/jobs/definition", headers=engine.api.admin,
                                         json={"name": "bad-controls", **body})
        assert r.status_code == 400, r.text
        assert r.json()["message"].startswith(message)
        assert r.headers["x-should-retry"] == "false"
    r = await engine.api.client.get("/jobs", headers=engine.api.admin)
    assert all(j["name"] != "bad-controls" for j in r.json())


async def test_jitter_moves_the_due_time_but_not_the_instant(engine: Engine) -> None:
    engine.at("2026-11-28T11:59:59Z")
    job = await engine.api.define(name="jittery-job", schedule="0 * * * *",
                                  jitter_seconds=1800, timeout_seconds=30)
    assert job["jitter_seconds"] == 1800
    tick = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    off = hashed.jitter_offset(hashed.seed_of(job["environment_id"], job["name"]), tick, 1800)
    assert off > timedelta(seconds=2)  # this job's name is chosen so the test means something
    engine.at("2026-11-28T12:00:00Z")
    assert await engine.tick() == 1
    assert await engine.tick() == 0  # exactly once: a second tick creates nothing
    (run,) = await engine.runs(job["id"])
    assert run["scheduled_for"] == "2026-11-28T12:00:00Z"
    assert run["due_at"] == rfc3339(tick + off)
    # not handed out before its due time, nor expired by its pick-up window meanwhile
    engine.at((tick + off - timedelta(milliseconds=1)).isoformat())
    assert await engine.claim("jittery-job") == []
    assert await engine.reap() == []
    engine.at((tick + off).isoformat())
    (claimed,) = await engine.claim("jittery-job")
    assert claimed["id"] == run["id"] and claimed["scheduled_for"] == run["scheduled_for"]


async def test_timed_pause_creates_nothing_inside_and_resumes_by_itself(engine: Engine) -> None:
    engine.at("2026-11-28T12:00:00Z")
    job = await engine.api.define(name="timed-pause", schedule="*/5 * * * *",
                                  paused_until="2026-11-28T13:30:00+01:00")  # 12:30 UTC
    assert (job["paused"], job["paused_until"], job["next_run_at"]) == (
        True, "2026-11-28T12:30:00Z", "2026-11-28T12:30:00Z")  # the tick at the end runs
    # redefining without the field keeps the pause (a worker restarting)
    again = await engine.api.define(name="timed-pause", schedule="*/5 * * * *")
    assert again["paused_until"] == "2026-11-28T12:30:00Z"
    await engine.step_to("2026-11-28T12:36:00Z", step=30)
    assert [e["scheduled_for"] for e in await engine.runs(job["id"])] == [
        "2026-11-28T12:30:00Z", "2026-11-28T12:35:00Z"]
    after = await engine.job(job["id"])
    assert (after["job"]["paused"], after["job"]["paused_until"]) == (False, None)
    # a paused_until that has passed (a worker resending its definition) means no pause
    late = await engine.api.define(name="timed-pause", schedule="*/5 * * * *",
                                   paused_until="2026-11-28T12:30:00Z")
    assert (late["paused"], late["paused_until"], late["next_run_at"]) == (
        False, None, "2026-11-28T12:40:00Z")


async def test_pause_route_with_until_and_resume_and_skip_route(engine: Engine) -> None:
    c, h = engine.api.client, engine.api.admin
    engine.at("2026-11-28T12:00:00Z")
    job = await engine.api.define(name="route-controls", schedule="*/10 * * * *")
    r = await c.patch(f"/api/jobs/pause/{job['id']}", headers=h,
                      json={"until": "2026-11-28T13:05:00Z"})
    assert r.status_code == 200, r.text
    assert (r.json()["paused"], r.json()["next_run_at"]) == (True, "2026-11-28T13:10:00Z")
    r = await c.patch(f"/jobs/resume/{job['id']}", headers=h)
    assert (r.json()["paused"], r.json()["paused_until"], r.json()["next_run_at"]) == (
        False, None, "2026-11-28T12:10:00Z")
    r = await c.patch(f"/jobs/pause/{job['id']}", headers=h)  # no body: the hosted pause
    assert (r.json()["paused"], r.json()["next_run_at"]) == (True, None)
    await c.patch(f"/jobs/resume/{job['id']}", headers=h)
    r = await c.patch(f"/jobs/skip/{job['id']}", headers=h, json={"count": 2})
    assert r.json()["skip_next"] == 2
    await engine.step_to("2026-11-28T12:30:30Z", step=30)
    runs = await engine.runs(job["id"])
    assert [(e["scheduled_for"][11:16], e["status"], e["error"]) for e in runs] == [
        ("12:10", "skipped", "skipped: skip_next"), ("12:20", "skipped", "skipped: skip_next"),
        ("12:30", "pending", None)]
    assert (await engine.job(job["id"]))["job"]["skip_next"] == 0
    for path, body, message in (
        ("pause", {"until": "2026-11-28T11:00:00Z"}, "until: must be in the future"),
        ("pause", {"until": "tomorrow"}, "until: 'tomorrow' is not an RFC 3339"),
        ("pause", {"until": "2026-11-28T13:00:00"}, "until: '2026-11-28T13:00:00' is not"),
        ("skip", {"count": 1001}, "skip_next: must be between 0 and 1000"),
        ("pause", {"until": "0001-01-01T00:00:00+05:00"}, "until: must be between the years"),
    ):
        r = await c.patch(f"/jobs/{path}/{job['id']}", headers=h, json=body)
        assert r.status_code == 400, r.text
        assert r.json()["message"].startswith(message)
    r = await c.patch("/jobs/skip/999999", headers=h, json={"count": 1})
    assert r.status_code == 404
    r = await c.post("/jobs/definition", headers=h, json={
        "name": "route-controls", "schedule": "*/10 * * * *", "skip_next": -1})
    assert r.status_code == 400 and r.json()["message"].startswith("skip_next:")


async def test_trigger_with_a_payload_stores_it_on_the_run_and_its_retry(engine: Engine) -> None:
    c, h = engine.api.client, engine.api.admin
    job = await engine.api.define(name="payload-job", schedule="0 0 1 1 *", max_retries=1)
    r = await c.post(f"/jobs/trigger/{job['id']}", headers=h)  # the hosted client: no body
    assert r.status_code == 200 and r.json()["payload"] is None
    await engine.complete(r.json()["id"])
    r = await c.post(f"/api/jobs/trigger/{job['id']}", headers=h, json={})
    assert r.status_code == 200 and r.json()["payload"] is None
    await engine.complete(r.json()["id"])
    r = await c.post(f"/jobs/trigger/{job['id']}", content=b"",
                     headers={**h, "content-type": "application/json"})
    assert r.status_code == 200 and r.json()["payload"] is None, r.text
    await engine.complete(r.json()["id"])
    body = {"payload": {"invoice": 42, "lines": ["a", "b"], "ü": None}}
    r = await c.post(f"/jobs/trigger/{job['id']}", headers=h, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["payload"] == body["payload"]
    (claimed,) = await engine.claim("payload-job")
    assert claimed["payload"] == body["payload"]
    await engine.complete(claimed["id"], success=False, error="boom")
    engine.advance(30)
    (retry,) = await engine.claim("payload-job")
    assert (retry["trigger"], retry["payload"]) == ("retry", body["payload"])
    big = {"payload": {"x": "y" * (64 * 1024)}}
    for bad, status, message in (
        (big, 413, "payload: 65544 bytes as JSON, at most 65536"),
        ({"payload": [1, 2]}, 422, ""),
        ({"payload": {"a": 1}, "extra": 1}, 400, "body: unknown field 'extra'"),
    ):
        r = await c.post(f"/jobs/trigger/{job['id']}", headers=h, json=bad)
        assert r.status_code == status, r.text
        assert r.json()["message"].startswith(message)
        assert r.headers["x-should-retry"] == "false"
    assert len(await engine.runs(job["id"])) == 5  # the refused triggers made nothing


async def test_backfill_equals_the_brute_force_fire_list_and_skips_existing_runs(
    engine: Engine,
) -> None:
    c, h = engine.api.client, engine.api.admin
    engine.at("2026-11-28T09:00:00Z")
    job = await engine.api.define(name="backfilled", schedule="*/7 9-10 * * *",
                                  timeout_seconds=30)
    await engine.step_to("2026-11-28T09:30:00Z", step=60)  # ticks 09:00 (no), 09:07 .. 09:28
    for e in await engine.claim("backfilled", limit=50):
        await engine.complete(e["id"])
    engine.at("2026-11-28T12:00:00Z")
    start, end = datetime(2026, 11, 28, 8, 30, tzinfo=UTC), datetime(2026, 11, 28, 10, 21,
                                                                         tzinfo=UTC)
    # brute force: every minute of the range whose hour is 9-10 and minute a multiple of 7
    oracle = [start + timedelta(minutes=m) for m in range(int((end - start).seconds / 60) + 1)
              if (start + timedelta(minutes=m)).hour in (9, 10)
              and (start + timedelta(minutes=m)).minute % 7 == 0]
    before = {e["scheduled_for"] for e in await engine.runs(job["id"])}
    r = await c.post(f"/api/jobs/{job['id']}/backfill", headers=h,
                     json={"from": "2026-11-28T09:30:00+01:00", "to": "2026-11-28T10:21:00Z"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["instants"] == len(oracle)
    assert [e["scheduled_for"] for e in out["executions"]] == [
        rfc3339(t) for t in oracle if rfc3339(t) not in before]
    assert out["created"] == len(oracle) - len(before) and len(before) == 4
    assert {e["trigger"] for e in out["executions"]} == {"backfill"}
    runs = await engine.runs(job["id"])
    assert sorted(e["scheduled_for"] for e in runs) == [rfc3339(t) for t in oracle]
    again = await c.post(f"/jobs/{job['id']}/backfill", headers=h,
                         json={"from": "2026-11-28T08:30:00Z", "to": "2026-11-28T10:21:00Z"})
    assert again.json()["created"] == 0  # deduplicated by the unique key
    every = await engine.api.define(name="every-second", schedule="* * * * * *")
    for body, status, message in (
        ({"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T10:16:41Z"}, 400,
         "backfill: the range holds more than 1000 fire instants"),
        ({"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T12:00:01Z"}, 400,
         "to: must not be in the future"),
        ({"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T09:00:00Z"}, 400,
         "to: must not be before from"),
        ({"from": "yesterday", "to": "2026-11-28T09:00:00Z"}, 400, "from: 'yesterday' is not"),
        ({"to": "2026-11-28T09:00:00Z"}, 422, ""),
    ):
        r = await c.post(f"/jobs/{every['id']}/backfill", headers=h, json=body)
        assert r.status_code == status, r.text
        assert r.json()["message"].startswith(message)
    ok = await c.post(f"/jobs/{every['id']}/backfill", headers=h,
                      json={"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T10:16:39Z"})
    assert ok.json()["created"] == 1000
    r = await c.post("/jobs/999999/backfill", headers=h,
                     json={"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T10:01:00Z"})
    assert r.status_code == 404


async def test_rerun_runs_a_past_instant_again_as_its_next_attempt(engine: Engine) -> None:
    c, h = engine.api.client, engine.api.admin
    engine.at("2026-11-28T11:59:59Z")
    await engine.api.define(name="rerun-me", schedule="0 12 * * *")
    await engine.step_to("2026-11-28T12:00:01Z")
    (run,) = await engine.claim("rerun-me")
    r = await c.post(f"/jobs/executions/{run['id']}/rerun", headers=h)
    assert r.status_code == 409, r.text  # its instant is still running
    await engine.complete(run["id"], success=False, error="bad data")
    r = await c.post(f"/api/jobs/executions/{run['id']}/rerun", headers=h)
    assert r.status_code == 200, r.text
    again = r.json()
    assert (again["scheduled_for"], again["attempt"], again["trigger"], again["status"]) == (
        run["scheduled_for"], 2, "rerun", "pending")
    (claimed,) = await engine.claim("rerun-me")
    assert claimed["id"] == again["id"]
    r = await c.post("/jobs/executions/999999/rerun", headers=h)
    assert r.status_code == 404


async def test_at_runs_once_then_the_job_ticks_no_more(engine: Engine) -> None:
    engine.at("2026-12-31T12:00:00Z")
    job = await engine.api.define(name="one-off", schedule="@at 2027-01-01T06:00:00+01:00",
                                  timezone="America/New_York")
    assert job["next_run_at"] == "2027-01-01T05:00:00Z"
    await engine.step_to("2027-01-01T05:00:30Z", step=3600)
    await engine.step_to("2027-01-01T05:00:31Z")
    (run,) = await engine.claim("one-off")
    assert run["scheduled_for"] == "2027-01-01T05:00:00Z"
    await engine.complete(run["id"])
    engine.at("2027-03-01T00:00:00Z")
    assert await engine.tick() == 0
    shown = (await engine.job(job["id"]))["job"]
    assert (shown["next_run_at"], shown["status"], shown["paused"]) == (None, "completed", False)
    # a worker re-defining it after the instant keeps it as it is; a new one in the past is a 400
    again = await engine.api.define(name="one-off", schedule="@at 2027-01-01T06:00:00+01:00",
                                    timezone="America/New_York")
    assert again["next_run_at"] is None
    for schedule, message in (
        ("@at 2027-01-01T06:00:00+01:00", "schedule: has no fire instant after now"),
        ("@at 2027-01-01T06:00:00", "schedule: @at: '2027-01-01T06:00:00' is not an RFC 3339"),
        ("@at", "schedule: @at: '' is not"),
        ("@at 9999-12-31T23:00:00-05:00", "schedule: @at: must be between the years 2000"),
    ):
        r = await engine.api.client.post("/jobs/definition", headers=engine.api.admin,
                                         json={"name": "late-one-off", "schedule": schedule})
        assert r.status_code == 400, r.text
        assert r.json()["message"].startswith(message)


async def test_several_crons_fire_at_the_union_each_instant_once(engine: Engine) -> None:
    engine.at("2026-11-28T11:59:59Z")
    job = await engine.api.define(name="multi-cron", schedule="0,30 12 * * *",
                                  crons=["*/20 12 * * *", "0 12 * * *", "H(40-40) 12 * * *"])
    assert job["crons"] == ["*/20 12 * * *", "0 12 * * *", "H(40-40) 12 * * *"]
    await engine.step_to("2026-11-28T13:00:00Z", step=60)
    got = [e["scheduled_for"][11:16] for e in await engine.runs(job["id"])]
    assert got == ["12:00", "12:20", "12:30", "12:40"]  # 12:00 and 12:40 named twice, run once
    r = await engine.api.client.post("/jobs/definition", headers=engine.api.admin, json={
        "name": "multi-cron", "schedule": "0 * * * *", "crons": ["0 0 * * *", "61 * * * *"]})
    assert r.status_code == 400
    assert r.json()["message"].startswith("crons.1: schedule: minute field: 61")
    plain = await engine.api.define(name="multi-cron", schedule="0,30 12 * * *")
    assert plain["crons"] == [] and plain["next_run_at"] == "2026-11-29T12:00:00Z"


async def test_buffer_one_keeps_one_tick_until_the_running_one_ends(engine: Engine) -> None:
    engine.at("2026-11-28T12:00:30Z")
    job = await engine.api.define(name="buffered", schedule="* * * * *", overlap="buffer_one",
                                  timeout_seconds=600)
    assert (job["overlap"], job["blocking"], job["max_concurrency"]) == (
        "buffer_one", True, None)
    engine.at("2026-11-28T12:01:00Z")
    await engine.tick()
    (first,) = await engine.claim("buffered")
    for minute in ("02", "03"):  # 12:02 is buffered, 12:03 finds the buffer full
        engine.at(f"2026-11-28T12:{minute}:00Z")
        await engine.tick()
        assert await engine.claim("buffered") == []  # never two at once
    engine.at("2026-11-28T12:04:00Z")
    await engine.tick()
    assert await engine.reap() == []  # the buffered run does not expire while held
    await engine.complete(first["id"])
    (second,) = await engine.claim("buffered")
    assert second["scheduled_for"] == "2026-11-28T12:02:00Z"
    runs = {e["scheduled_for"][11:16]: e for e in await engine.runs(job["id"])}
    assert runs["12:03"]["status"] == runs["12:04"]["status"] == "skipped"
    assert "one tick is already buffered" in runs["12:03"]["error"]


async def test_cancel_other_cancels_the_running_run_and_tells_its_worker(
    engine: Engine,
) -> None:
    """overlap=cancel_other: the next tick runs and the run still going is cancelled; a
    worker watching it (the cancel watch the SDK and the agent use) hears at once, and its
    late report is refused (409). No failure alert: the job is not failing."""
    engine.at("2026-11-28T12:00:30Z")
    job = await engine.api.define(name="latest-only", schedule="* * * * *",
                                  overlap="cancel_other", timeout_seconds=600)
    assert (job["overlap"], job["blocking"]) == ("cancel_other", True)
    engine.at("2026-11-28T12:01:00Z")
    await engine.tick()
    (first,) = await engine.claim("latest-only")
    api = engine.api
    watch = asyncio.create_task(api.client.post(
        "/jobs/executions/cancelled", params={"wait": 10}, headers=api.admin,
        json={"ids": [first["id"]]}))
    await asyncio.sleep(0.05)
    engine.at("2026-11-28T12:02:00Z")
    await engine.tick()
    told = await asyncio.wait_for(watch, 5)
    assert told.status_code == 200 and first["id"] in told.json()["cancelled"], told.text
    (second,) = await engine.claim("latest-only")
    assert second["scheduled_for"] == "2026-11-28T12:02:00Z"
    runs = {e["id"]: e for e in await engine.runs(job["id"])}
    assert runs[first["id"]]["status"] == "cancelled"
    assert "overlap=cancel_other" in runs[first["id"]]["error"]
    late = await api.client.post(f"/jobs/executions/complete/{first['id']}",
                                 headers=api.admin, json={"success": True})
    assert late.status_code == 409
    notices = await api.client.get("/org/notifications", params={"job_id": job["id"]},
                                   headers=api.admin)
    assert notices.status_code == 200 and notices.json() == []


async def test_max_concurrency_and_blocking_map_onto_overlap(engine: Engine) -> None:
    engine.at("2026-11-28T12:00:30Z")
    job = await engine.api.define(name="limited", schedule="* * * * *", overlap="allow",
                                  max_concurrency=2, timeout_seconds=600)
    for minute in ("01", "02", "03"):
        engine.at(f"2026-11-28T12:{minute}:00Z")
        await engine.tick()
    assert len(await engine.claim("limited")) == 2
    runs = await engine.runs(job["id"])
    assert runs[-1]["status"] == "skipped"
    assert runs[-1]["error"] == "skipped: max_concurrency 2 runs are already pending or running"
    old = await engine.api.define(name="old-style", schedule="* * * * *", blocking=True)
    assert (old["overlap"], old["blocking"]) == ("skip", True)
    free = await engine.api.define(name="old-style", schedule="* * * * *")
    assert (free["overlap"], free["blocking"]) == ("allow", False)
    for body, message in (
        ({"overlap": "replace"}, "overlap: must be one of skip, allow, buffer_one, cancel_other"),
        ({"overlap": "allow", "blocking": True}, "blocking: true disagrees with overlap"),
        ({"overlap": "skip", "max_concurrency": 3}, "max_concurrency: overlap 'skip' runs"),
        ({"max_concurrency": 0}, "max_concurrency: must be between 1 and 1000"),
    ):
        r = await engine.api.client.post("/jobs/definition", headers=engine.api.admin,
                                         json={"name": "bad-overlap", "schedule": "* * * * *",
                                               **body})
        assert r.status_code == 400, r.text
        assert r.json()["message"].startswith(message)


async def test_concurrent_tickers_make_each_tick_once_with_every_control_on(
    engine: Engine,
) -> None:
    """H, jitter, crons, skip_next and a buffer: three tickers at once, each instant once,
    and skip_next spent exactly as many times as it asked."""
    import asyncio

    engine.at("2026-11-28T12:00:00Z")
    ids = []
    for i in range(20):
        job = await engine.api.define(
            name=f"ctl-{i:02d}", schedule="H/2 * * * * *", crons=["*/3 * * * * *"],
            jitter_seconds=5, skip_next=2, overlap="allow" if i % 2 else "buffer_one")
        ids.append(job["id"])
    engine.at("2026-11-28T12:00:20Z")
    other, third = type(engine.ticker)(engine.api.svc), type(engine.ticker)(engine.api.svc)
    await asyncio.gather(engine.tick(), other.tick_once(engine.now),
                         third.tick_once(engine.now))
    await engine.tick()
    for job_id in ids:
        runs = await engine.runs(job_id)
        instants = [e["scheduled_for"] for e in runs]
        assert len(instants) == len(set(instants)) > 6  # each instant once
        assert [e["error"] for e in runs].count("skipped: skip_next") == 2
        assert (await engine.job(job_id))["job"]["skip_next"] == 0
