"""Heartbeat jobs on the engine (issue 19): ping routes through the in-process app, the
ticker and the reaper on the fake clock (a missed ping fails the run at due + grace)."""

from __future__ import annotations

import uuid

from tests.engine.conftest import Engine


async def heartbeat(engine: Engine, **kw: object) -> dict:
    job = await engine.api.define(type="heartbeat", **kw)
    assert job["type"] == "heartbeat" and job["ping_uuid"]
    return job


async def ping(engine: Engine, path: str, body: bytes | None = None) -> int:
    c = engine.api.client
    r = await (c.post(path, content=body) if body is not None else c.get(path))
    return r.status_code


async def test_definition_answer_and_refusals(engine: Engine) -> None:
    api = engine.api
    job = await heartbeat(engine, name="backup-job", schedule="0 2 * * *", grace_seconds=900)
    assert job["grace_seconds"] == 900 and job["blocking"] is True and job["max_retries"] == 0
    detail = (await api.client.get(f"/jobs/{job['id']}", headers=api.admin)).json()
    assert detail["ping"]["url"] == f"http://127.0.0.1:8000/ping/{job['ping_uuid']}"
    assert detail["ping"]["slug_url"].endswith("/backup-job")
    again = await api.define(name="backup-job", schedule="0 3 * * *", type="heartbeat")
    assert again["ping_uuid"] == job["ping_uuid"] and again["grace_seconds"] == 3600
    for extra in ({"webhook_url": "https://example.com/x"}, {"command": "true"},
                  {"max_retries": 2}, {"grace_seconds": 0}, {"type": "cron"}):
        r = await api.client.post("/jobs/definition", headers=api.admin, json={
            "name": "backup-job", "schedule": "* * * * *", "type": "heartbeat", **extra})
        assert r.status_code == 400, (extra, r.text)
    r = await api.client.post("/jobs/definition", headers=api.admin, json={
        "name": "sdk-job", "schedule": "* * * * *", "grace_seconds": 60})
    assert r.status_code == 400 and "grace_seconds" in r.text
    sdk = await api.define(name="sdk-job", type="sdk")
    assert sdk["ping_uuid"] is None


async def test_pings_end_runs_and_a_missed_ping_fails_at_due_plus_grace(engine: Engine
                                                                         ) -> None:
    engine.at("2026-11-28T12:00:30Z")
    job = await heartbeat(engine, name="minutely-job", schedule="* * * * *", grace_seconds=30)
    u = job["ping_uuid"]
    engine.at("2026-11-28T12:01:00Z")
    await engine.tick()
    engine.advance(3)
    assert await ping(engine, f"/ping/{u}/start") == 200
    engine.advance(7)
    assert await ping(engine, f"/ping/{u}", b"backed up 3 files") == 200
    [run] = await engine.runs(job["id"])
    assert run["status"] == "completed" and run["duration"] == 7000
    assert run["output"] == "backed up 3 files" and run["trigger"] == "schedule"
    # 12:02 tick: no ping; at 12:02:30 (due + grace) the reaper fails it
    await engine.step_to("2026-11-28T12:02:29Z")
    assert (await engine.runs(job["id"]))[-1]["status"] == "pending"
    await engine.step_to("2026-11-28T12:02:31Z")
    missed = (await engine.runs(job["id"]))[-1]
    assert missed["status"] == "expired"
    assert missed["error"] == ("missed: no ping within the grace time (30s) after "
                               "2026-11-28T12:02:00Z")
    r = await engine.api.client.get("/org/notifications", headers=engine.api.admin)
    assert [n["kind"] for n in r.json()] == ["failing"]
    # an exit status: non-zero fails with the code, zero succeeds (and recovers)
    await engine.step_to("2026-11-28T12:03:01Z")
    assert await ping(engine, f"/ping/{u}/3") == 200
    failed = (await engine.runs(job["id"]))[-1]
    assert (failed["status"], failed["exit_code"]) == ("failed", 3)
    assert await ping(engine, f"/ping/{u}/0") == 200  # no run waits: a run of its own
    extra = (await engine.runs(job["id"]))[-1]
    assert (extra["status"], extra["trigger"]) == ("completed", "ping")


async def test_rid_pairs_start_and_finish_and_log_adds_output(engine: Engine) -> None:
    engine.at("2026-11-28T12:00:30Z")
    job = await heartbeat(engine, name="parallel-job", schedule="0 * * * *")
    u = job["ping_uuid"]
    a, b = uuid.uuid4(), uuid.uuid4()
    assert await ping(engine, f"/ping/{u}/start?rid={a}") == 200
    engine.advance(1)
    assert await ping(engine, f"/ping/{u}/start?rid={b}") == 200
    assert await ping(engine, f"/ping/{u}/log?rid={a}", b"step one") == 200
    engine.advance(4)
    assert await ping(engine, f"/ping/{u}/fail?rid={a}", b"step two failed") == 200
    engine.advance(5)
    assert await ping(engine, f"/ping/{u}?rid={b}") == 200
    runs = await engine.runs(job["id"])
    assert [(r["status"], r["duration"], r["metadata"].get("rid")) for r in runs] == [
        ("failed", 5000, str(a)), ("completed", 9000, str(b))]
    assert runs[0]["output"] == "step two failed"  # the finish's body replaces the log
    assert await ping(engine, f"/ping/{u}?rid=not-a-uuid") == 400


async def test_unknown_foreign_and_wrong_urls_answer_alike(engine: Engine) -> None:
    api = engine.api
    job = await heartbeat(engine, name="mine-job")
    sdk = await api.define(name="sdk-job")
    other = await api.define(headers=await api.foreign_org(), name="theirs-job",
                             type="heartbeat")
    answers = set()
    for path in (f"/ping/{uuid.uuid4()}", f"/ping/{job['ping_uuid']}/nope",
                 f"/ping/{job['ping_uuid']}/256", "/ping/not-a-key/mine-job",
                 f"/ping/{job['ping_uuid']}/a/b", f"/ping/x/{sdk['name']}"):
        r = await api.client.get(path)
        answers.add((r.status_code, r.text))
    assert answers == {(404, '{"message":"not found"}')}
    # each job answers its own uuid only; the other organisation's ping does not touch ours
    assert await ping(engine, f"/ping/{other['ping_uuid']}") == 200
    assert await engine.runs(job["id"]) == []


async def test_a_tick_while_a_heartbeat_run_waits_is_skipped(engine: Engine) -> None:
    """docs/semantics.md: a heartbeat job waits for one ping at a time (it is blocking).
    Its definition stored overlap "allow" beside blocking true, and the overlap won: every
    tick made one more waiting run (60 an hour with a 1-hour grace), each expiring as missed."""
    engine.at("2026-11-28T12:00:30Z")
    job = await heartbeat(engine, name="hourly-backup", schedule="* * * * *",
                          grace_seconds=3600)
    await engine.step_to("2026-11-28T12:03:30Z", step=10)
    runs = sorted(await engine.runs(job["id"]), key=lambda r: r["scheduled_for"])
    assert [r["status"] for r in runs] == ["pending", "skipped", "skipped"], runs
    assert runs[0]["scheduled_for"] == "2026-11-28T12:01:00Z"
    u = job["ping_uuid"]
    assert await ping(engine, f"/ping/{u}") == 200  # ends the one waiting run
    await engine.step_to("2026-11-28T12:04:30Z", step=10)
    latest = sorted(await engine.runs(job["id"]), key=lambda r: r["scheduled_for"])[-1]
    assert (latest["scheduled_for"], latest["status"]) == ("2026-11-28T12:04:00Z", "pending")
