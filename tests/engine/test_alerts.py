"""Alert rules end to end on the engine (issue 19): the definition fields, thresholds and
the pause after repeated failures through the API, and the no-success window checked by the
reaper on the fake clock."""

from __future__ import annotations

import pytest

from tests.engine.conftest import Engine


async def kinds(engine: Engine) -> list[str]:
    r = await engine.api.client.get("/org/notifications", headers=engine.api.admin)
    assert r.status_code == 200, r.text
    return [n["kind"] for n in reversed(r.json())]


async def fail_one(engine: Engine, code: str) -> None:
    await engine.tick()
    [run] = await engine.claim(code)
    await engine.complete(run["id"], success=False, error="exit 1")


async def test_fields_are_shown_and_validated(engine: Engine) -> None:
    api = engine.api
    job = await api.define(name="rules-job", alert_after_failures=3, max_duration_seconds=600,
                           success_within_seconds=26 * 3600, pause_after_failures=5)
    assert (job["alert_after_failures"], job["max_duration_seconds"],
            job["success_within_seconds"], job["pause_after_failures"]) == (3, 600, 93600, 5)
    assert job["paused_reason"] is None and job["consecutive_failures"] == 0
    plain = await api.define(name="rules-job")  # a definition states everything: defaults
    assert plain["alert_after_failures"] == 1 and plain["success_within_seconds"] is None
    for field, value in [("alert_after_failures", 0), ("pause_after_failures", 1001),
                         ("max_duration_seconds", 0), ("success_within_seconds", 59),
                         ("alert_after_failures", "2"), ("success_within_seconds", 1.5)]:
        r = await api.client.post("/api/jobs/definition", headers=api.admin, json={
            "name": "rules-job", "schedule": "* * * * *", field: value})
        assert r.status_code in (400, 422), r.text
        assert field in r.text and r.headers["x-should-retry"] == "false"
    again = (await api.client.get(f"/jobs/{job['id']}", headers=api.admin)).json()["job"]
    assert again["alert_after_failures"] == 1  # nothing changed


async def test_threshold_then_pause_with_its_reason(engine: Engine) -> None:
    engine.at("2026-11-28T12:00:30Z")
    job = await engine.api.define(name="fragile-job", schedule="* * * * *",
                                  alert_after_failures=2, pause_after_failures=3)
    for minute in (1, 2, 3):
        engine.at(f"2026-11-28T12:0{minute}:00Z")
        await fail_one(engine, "fragile-job")
        if minute == 1:
            assert await kinds(engine) == []
    assert await kinds(engine) == ["failing", "paused"]
    got = (await engine.job(job["id"]))["job"]
    assert got["paused"] is True and got["next_run_at"] is None
    assert got["consecutive_failures"] == 3
    assert got["paused_reason"].startswith("paused after 3 consecutive failed runs")
    engine.at("2026-11-28T12:10:00Z")
    assert await engine.tick() == 0  # paused: no run
    r = await engine.api.client.patch(f"/jobs/resume/{job['id']}", headers=engine.api.admin)
    assert r.json()["paused_reason"] is None and r.json()["next_run_at"] is not None


@pytest.mark.parametrize("succeed", [False, True])
async def test_no_success_window_alerts_once_from_the_reaper(engine: Engine,
                                                             succeed: bool) -> None:
    engine.at("2026-11-28T12:00:30Z")
    await engine.api.define(name="nightly-job", schedule="0 * * * *",
                            success_within_seconds=2 * 3600)
    engine.at("2026-11-28T13:00:00Z")
    await engine.tick()
    [run] = await engine.claim("nightly-job")
    await engine.complete(run["id"], success=succeed)
    engine.at("2026-11-28T14:00:29Z")
    await engine.reap()
    assert "no_success" not in await kinds(engine)
    engine.at("2026-11-28T14:00:31Z")  # two hours after the definition
    await engine.reap()
    expected = [] if succeed else ["failing", "no_success"]
    assert await kinds(engine) == expected
    engine.at("2026-11-28T15:00:05Z")  # two hours after the success
    await engine.reap()
    await engine.reap()
    assert await kinds(engine) == (["no_success"] if succeed else expected)


async def test_a_run_still_running_past_its_limit_alerts_once(engine: Engine) -> None:
    engine.at("2026-11-28T12:00:30Z")
    await engine.api.define(name="long-job", schedule="0 * * * *", max_duration_seconds=60,
                            timeout_seconds=3600)
    engine.at("2026-11-28T13:00:00Z")
    await engine.tick()
    [run] = await engine.claim("long-job")
    engine.at("2026-11-28T13:01:00Z")
    await engine.reap()
    assert await kinds(engine) == []  # exactly the limit
    engine.at("2026-11-28T13:01:31Z")
    await engine.reap()
    assert await kinds(engine) == ["slow"]
    engine.advance(300)
    await engine.complete(run["id"], success=True)  # its end does not alert again
    await engine.reap()
    assert await kinds(engine) == ["slow"]
