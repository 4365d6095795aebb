"""GET /jobs/{id}/explain (issue 19): why a job did or didn't run at an instant, driven by
the ticker and the reaper on the fake clock."""

from __future__ import annotations

from typing import Any

from tests.engine.conftest import Engine


async def explain(engine: Engine, job_id: int, at: str) -> dict[str, Any]:
    r = await engine.api.client.get(f"/jobs/{job_id}/explain?at={at}",
                                    headers=engine.api.admin)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_ran_skipped_future_paused_and_not_a_fire_time(engine: Engine) -> None:
    engine.at("2026-11-28T12:00:30Z")
    job = await engine.api.define(name="blocky-job", schedule="* * * * *", blocking=True)
    jid = job["id"]
    await engine.step_to("2026-11-28T12:01:00Z")
    [run] = await engine.claim("blocky-job")
    await engine.step_to("2026-11-28T12:02:00Z")  # still running: the 12:02 tick is skipped
    await engine.complete(run["id"], success=False, error="exit 2")
    ran = await explain(engine, jid, "2026-11-28T12:01:00Z")
    assert (ran["fires"], ran["verdict"]) == (True, "ran")
    assert ran["message"] == f"ran as execution {run['id']}: ended failed"
    assert ran["executions"][0]["status"] == "failed"
    skipped = await explain(engine, jid, "2026-11-28T12:02:00Z")
    assert skipped["verdict"] == "skipped_blocking"
    odd = await explain(engine, jid, "2026-11-28T12:02:30Z")
    assert (odd["fires"], odd["verdict"], odd["next_fire"]) == (
        False, "not_a_fire_time", "2026-11-28T12:03:00Z")
    assert (await explain(engine, jid, "2026-11-28T13:00:00Z"))["verdict"] == "will_run"
    before = await explain(engine, jid, "2026-11-28T11:00:00Z")
    assert before["verdict"] == "before_definition"
    await engine.api.client.patch(f"/jobs/pause/{jid}", headers=engine.api.admin)
    assert (await explain(engine, jid, "2026-11-28T13:00:00Z"))["verdict"] == "paused"
    engine.at("2026-11-28T12:10:00Z")
    gap = await explain(engine, jid, "2026-11-28T12:05:00Z")
    assert gap["verdict"] == "not_recorded" and "paused" in gap["message"]
    for bad in ("yesterday", "2026-11-28T12:00:00", "1800-01-01T00:00:00Z"):
        r = await engine.api.client.get(f"/jobs/{jid}/explain?at={bad}",
                                        headers=engine.api.admin)
        assert r.status_code == 400 and r.json()["message"].startswith("at:"), bad


async def test_missed_during_downtime_caught_up_or_recorded(engine: Engine) -> None:
    engine.at("2026-11-28T12:00:30Z")
    job = await engine.api.define(name="tenly-job", schedule="*/10 * * * *")
    engine.at("2026-11-28T12:45:00Z")  # the server was down since 12:00:30
    await engine.tick()
    caught = await explain(engine, job["id"], "2026-11-28T12:40:00Z")
    assert caught["verdict"] == "missed_caught_up" and "caught up" in caught["message"]
    missed = await explain(engine, job["id"], "2026-11-28T12:10:00Z")
    assert missed["verdict"] == "missed_skipped"
    assert "missed 3 scheduled run(s)" in missed["message"]


async def test_dst_rule_in_the_answer(engine: Engine) -> None:
    job = await engine.api.define(name="berlin-job", schedule="30 2 * * *",
                                  timezone="Europe/Berlin")
    # 25 Oct 2026: 02:30 local happens twice; the job runs on the first pass only
    first = await explain(engine, job["id"], "2027-10-31T00:30:00Z")
    second = await explain(engine, job["id"], "2027-10-31T01:30:00Z")
    assert first["fires"] is True and first["local_time"] == "2027-10-31T02:30:00+02:00"
    assert second["fires"] is False and "first pass" in second["dst_note"]
    # 28 Mar 2027: 02:30 does not exist; the run is at 03:00 CEST (01:00Z)
    gap = await explain(engine, job["id"], "2027-03-28T01:00:00Z")
    assert gap["fires"] is True and "first instant after the gap" in gap["dst_note"]


async def test_a_backfilled_instant_is_not_called_missed_while_down(engine: Engine) -> None:
    """A backfill makes past instants on request, late by design: explain said "missed while
    the scheduler was not running, caught up" for them."""
    engine.at("2026-11-28T12:00:30Z")
    job = await engine.api.define(name="filled-job", schedule="*/10 * * * *")
    r = await engine.api.client.post(
        f"/jobs/{job['id']}/backfill", headers=engine.api.admin,
        json={"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T10:20:00Z"})
    assert r.status_code == 200, r.text
    got = await explain(engine, job["id"], "2026-11-28T10:10:00Z")
    assert got["verdict"] == "pending", got
    assert "backfill" in got["message"] and "not running" not in got["message"]
