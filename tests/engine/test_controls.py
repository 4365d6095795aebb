"""Scheduling controls through the API and the ticker with the fake clock (docs/semantics.md
"Spreading: H fields and jitter", "Timed pause and skips")."""

from __future__ import annotations

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
