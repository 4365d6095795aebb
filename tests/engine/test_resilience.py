"""The loops survive a failing row, and a server's downtime is not counted against workers
(issue 23: "one bad row is logged and set aside, never a batch that rolls back forever";
issue 16 point 5: the restart grace)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from schedo.server.scheduler.reaper import Reaper
from schedo.server.storage.schema import jobs
from tests.engine.conftest import Engine


async def _sql(engine: Engine, *statements: str) -> None:
    async with engine.api.svc.store.db.write() as c:  # type: ignore[attr-defined]
        for s in statements:
            await c.execute(text(s))


def _is_sqlite(engine: Engine) -> bool:
    return bool(engine.api.svc.store.db.is_sqlite)  # type: ignore[attr-defined]


async def test_a_job_that_cannot_tick_is_set_aside_and_the_others_tick(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    good = [await engine.api.define(name=f"good-{i}", schedule="* * * * *") for i in range(3)]
    bad = await engine.api.define(name="broken-job", schedule="* * * * *")
    # a row no definition can make (as if written by a buggy older version): planning fails
    async with engine.api.svc.store.db.write() as c:  # type: ignore[attr-defined]
        await c.execute(update(jobs).where(jobs.c.id == bad["id"])
                        .values(cron_expression="not a cron"))
    engine.advance(60)
    with caplog.at_level(logging.ERROR, logger="schedo.scheduler"):
        assert await engine.tick() == 3
    assert any("ticker.set_aside" in r.getMessage() and f"id={bad['id']}" in r.getMessage()
               for r in caplog.records)
    for g in good:
        assert [e["status"] for e in await engine.runs(g["id"])] == ["pending"]
    assert await engine.runs(bad["id"]) == []
    # the loop sleeps until the good jobs' next minute: the held job (due in the past) must
    # not make it spin without sleeping for the whole hold
    wait = await engine.ticker.step()
    assert wait is not None and 55 <= wait <= 60, wait
    # the next minute: the good jobs tick again at once, the bad one is not retried yet
    engine.advance(60)
    assert await engine.tick() == 3
    # once repaired and its hold is over, it ticks again
    async with engine.api.svc.store.db.write() as c:  # type: ignore[attr-defined]
        await c.execute(update(jobs).where(jobs.c.id == bad["id"])
                        .values(cron_expression="* * * * *"))
    engine.advance(11 * 60)
    await engine.tick()
    assert "pending" in [e["status"] for e in await engine.runs(bad["id"])]


async def test_a_run_that_cannot_expire_is_set_aside_and_the_others_expire(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    jobs_ = [await engine.api.define(name=f"exp-{i}", schedule="0 0 1 1 *", timeout_seconds=10)
             for i in range(3)]
    runs = [(await engine.api.client.post(f"/jobs/trigger/{j['id']}",
                                          headers=engine.api.admin)).json() for j in jobs_]
    victim = runs[1]["id"]
    if _is_sqlite(engine):
        await _sql(engine, f"""CREATE TRIGGER boom BEFORE UPDATE ON executions
                   WHEN OLD.id = {victim} BEGIN SELECT RAISE(ABORT, 'boom'); END""")
    else:
        await _sql(
            engine,
            """CREATE FUNCTION boom() RETURNS trigger AS $$
               BEGIN RAISE EXCEPTION 'boom'; END $$ LANGUAGE plpgsql""",
            f"""CREATE TRIGGER boom BEFORE UPDATE ON executions FOR EACH ROW
                WHEN (OLD.id = {victim}) EXECUTE FUNCTION boom()""",
        )
    engine.advance(11)
    with caplog.at_level(logging.ERROR, logger="schedo.scheduler"):
        expired = await engine.reap()
    assert sorted(e.id for e in expired) == sorted(r["id"] for r in runs if r["id"] != victim)
    assert any("reaper.set_aside" in r.getMessage() and f"id={victim}" in r.getMessage()
               for r in caplog.records)
    # the loop sleeps: the held run (overdue) must not make it spin for the whole hold
    wait = await engine.reaper.step()
    assert wait is not None and wait > 0, wait
    # the set-aside run stays visible as it was; a new run of another job still expires
    assert (await engine.runs(jobs_[1]["id"]))[0]["status"] == "pending"
    late = (await engine.api.client.post(f"/jobs/trigger/{jobs_[0]['id']}",
                                         headers=engine.api.admin)).json()
    engine.advance(11)
    assert [e.id for e in await engine.reap()] == [late["id"]]


async def test_deadlines_that_passed_while_no_server_ran_wait_for_the_restart_grace(
    engine: Engine,
) -> None:
    """A run claimed before an outage, whose run deadline passed during it, is not expired
    until ``restart_grace_seconds`` after the start: the worker's late report completes it.
    A deadline that passes after the start expires on time."""
    grace = engine.api.svc.settings.restart_grace_seconds
    assert grace == 30
    job = await engine.api.define(name="outage-job", schedule="0 0 1 1 *", timeout_seconds=30)
    await engine.api.client.post(f"/jobs/trigger/{job['id']}", headers=engine.api.admin)
    [held] = await engine.claim("outage-job")
    other = await engine.api.define(name="never-reported", schedule="0 0 1 1 *",
                                    timeout_seconds=30)
    await engine.api.client.post(f"/jobs/trigger/{other['id']}", headers=engine.api.admin)
    [orphan] = await engine.claim("never-reported")
    engine.advance(43 + 35)  # the server was down; both run deadlines passed meanwhile
    restarted = Reaper(engine.api.svc)  # a new process starts now
    fresh = await engine.api.define(name="after-start", schedule="0 0 1 1 *", timeout_seconds=5)
    await engine.api.client.post(f"/jobs/trigger/{fresh['id']}", headers=engine.api.admin)
    engine.advance(6)
    # only the run whose deadline passed after the start expires
    assert [e.job_code for e in await restarted.reap_once(engine.now)] == ["after-start"]
    done = await engine.complete(held["id"], output="kept through the outage")
    assert done["status"] == "completed" and done["output"] == "kept through the outage"
    engine.advance(grace - 6 - 1)
    assert await restarted.reap_once(engine.now) == []
    engine.advance(1)
    assert [e.id for e in await restarted.reap_once(engine.now)] == [orphan["id"]]
    assert (await engine.job(job["id"]))["job"]["status"] == "completed"
    assert restarted.started_at + timedelta(seconds=grace) == restarted.resume_at


async def _fail_inserts_of(engine: Engine, job_id: int) -> None:
    """The database refuses every new run of job ``job_id`` (as a constraint would)."""
    if _is_sqlite(engine):
        await _sql(engine, f"""CREATE TRIGGER boom BEFORE INSERT ON executions
                   WHEN NEW.job_id = {job_id} BEGIN SELECT RAISE(ABORT, 'boom'); END""")
    else:
        await _sql(
            engine,
            """CREATE FUNCTION boom() RETURNS trigger AS $$
               BEGIN RAISE EXCEPTION 'boom'; END $$ LANGUAGE plpgsql""",
            f"""CREATE TRIGGER boom BEFORE INSERT ON executions FOR EACH ROW
                WHEN (NEW.job_id = {job_id}) EXECUTE FUNCTION boom()""",
        )


async def test_a_job_whose_tick_cannot_be_stored_is_set_aside_and_the_others_tick(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Storage, not planning, fails for one job: its batch rolls back, its jobs are retried
    one per transaction, the failing one is logged and set aside, every other one ticks."""
    good = [await engine.api.define(name=f"store-{i}", schedule="* * * * *") for i in range(3)]
    bad = await engine.api.define(name="unstorable", schedule="* * * * *")
    await _fail_inserts_of(engine, bad["id"])
    engine.advance(60)
    with caplog.at_level(logging.ERROR, logger="schedo.scheduler"):
        assert await engine.tick() == 3
    assert any("ticker.set_aside" in r.getMessage() and f"id={bad['id']}" in r.getMessage()
               and "boom" in r.getMessage() for r in caplog.records)
    for g in good:
        assert [e["status"] for e in await engine.runs(g["id"])] == ["pending"]
    assert await engine.runs(bad["id"]) == []
    wait = await engine.ticker.step()  # sleeps until the next minute, no spinning
    assert wait is not None and 55 <= wait <= 60, wait
    engine.advance(60)
    assert await engine.tick() == 3
    # the database accepts its runs again: after the hold, it ticks again
    await _sql(engine, "DROP TRIGGER boom" if _is_sqlite(engine)
               else "DROP TRIGGER boom ON executions")
    engine.advance(11 * 60)
    await engine.tick()
    assert "pending" in [e["status"] for e in await engine.runs(bad["id"])]


@pytest.mark.parametrize("column", ["catch_up", "type", "status"])
async def test_a_job_row_that_cannot_be_read_is_set_aside_and_the_others_tick(
    engine: Engine, caplog: pytest.LogCaptureFixture, column: str
) -> None:
    """A job row the server cannot even read (a value no version writes, as from a buggy
    older version or a hand edit) fails before any plan is made: it is set aside by its id
    all the same, and is the earliest due, so it would otherwise block every job behind it."""
    bad = await engine.api.define(name="unreadable", schedule="* * * * *")
    good = [await engine.api.define(name=f"read-{i}", schedule="* * * * *") for i in range(3)]
    async with engine.api.svc.store.db.write() as c:  # type: ignore[attr-defined]
        await c.execute(update(jobs).where(jobs.c.id == bad["id"]).values({column: "bogus"}))
    engine.advance(60)
    with caplog.at_level(logging.ERROR, logger="schedo.scheduler"):
        assert await engine.tick() == 3
    assert any("ticker.set_aside" in r.getMessage() and f"id={bad['id']}" in r.getMessage()
               for r in caplog.records)
    for g in good:
        assert [e["status"] for e in await engine.runs(g["id"])] == ["pending"]
    wait = await engine.ticker.step()
    assert wait is not None and 55 <= wait <= 60, wait
    engine.advance(60)
    assert await engine.tick() == 3


async def test_a_run_row_that_cannot_be_read_is_set_aside_and_the_others_expire(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The reaper's side of the unreadable row: a run with a value no version writes."""
    jobs_ = [await engine.api.define(name=f"odd-{i}", schedule="0 0 1 1 *", timeout_seconds=10)
             for i in range(3)]
    runs = [(await engine.api.client.post(f"/jobs/trigger/{j['id']}",
                                          headers=engine.api.admin)).json() for j in jobs_]
    victim = runs[0]["id"]
    await _sql(engine, f"UPDATE executions SET trigger = 'bogus' WHERE id = {victim}")
    engine.advance(11)
    with caplog.at_level(logging.ERROR, logger="schedo.scheduler"):
        expired = await engine.reap()
    assert sorted(e.id for e in expired) == sorted(r["id"] for r in runs[1:])
    assert any("reaper.set_aside" in r.getMessage() and f"id={victim}" in r.getMessage()
               for r in caplog.records)
    wait = await engine.reaper.step()
    assert wait is not None and wait > 0, wait
