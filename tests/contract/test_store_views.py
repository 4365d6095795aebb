"""Contract: the dashboard's reads added for issue 22 (``DashboardStore.job_order``,
``run_days``, ``runs_between``, ``needs_attention`` and the marks' durations), on SQLite and
PostgreSQL, always within the environment."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import update

from schedo.server.storage.schema import executions, jobs
from tests.contract.kit import FAIL, OK, T0, World, at


async def _set_job(world: World, job_id: int, **values: object) -> None:
    async with world.store.db.write() as c:
        await c.execute(update(jobs).where(jobs.c.id == job_id).values(**values))


async def _set_run(world: World, run_id: int, **values: object) -> None:
    async with world.store.db.write() as c:
        await c.execute(update(executions).where(executions.c.id == run_id).values(**values))


async def test_job_order_sorts_in_sql_with_nulls_last_and_a_stable_tie_break(world: World) -> None:
    s = world.store
    b, a, c, d = [await world.job(n) for n in ("b", "a", "c", "d")]
    foreign = await world.job("aa", env=world.other_env)
    for job, ms in ((a, 5000), (b, 100), (c, None)):
        run = (await world.runs(job))[0]
        await s.complete(world.env, run.id, replace(OK, start_time=T0,
                         end_time=T0 + timedelta(milliseconds=ms or 0)), at(1))
        if ms is None:
            await _set_run(world, run.id, duration=None)
    late = (await world.runs(b))[0]  # b's latest run has no duration: its earlier one counts
    assert late.duration is None
    await _set_job(world, a.id, status="completed", last_run_at=at(10), next_run_at=at(500))
    await _set_job(world, b.id, status="failed", last_run_at=at(30), next_run_at=at(400))
    await _set_job(world, c.id, status="pending", retry_count=1, last_run_at=at(20),
                   next_run_at=None)
    await _set_job(world, d.id, status="running", last_run_at=None, next_run_at=at(400))

    async def order(sort: str, desc: bool = False) -> list[str]:
        names = {j.id: j.name for j in (a, b, c, d)}
        return [names[i] for i in await s.job_order(world.env, sort, desc)]

    assert await order("name") == ["a", "b", "c", "d"]
    assert await order("name", True) == ["d", "c", "b", "a"]
    assert await order("") == ["a", "b", "c", "d"]  # unknown sort: by name, then id
    assert await order("bogus; drop table jobs") == ["a", "b", "c", "d"]
    assert await order("status") == ["b", "c", "d", "a"]  # failing (b; c waits for a retry)
    assert await order("status", True) == ["a", "d", "b", "c"]  # ties stay by name
    assert await order("last_run") == ["a", "c", "b", "d"]  # never run: last
    assert await order("last_run", True) == ["b", "c", "a", "d"]
    assert await order("next_run") == ["b", "d", "a", "c"]  # tie b/d by name; none last
    assert await order("next_run", True) == ["a", "b", "d", "c"]
    assert await order("duration") == ["b", "a", "c", "d"]
    assert await order("duration", True) == ["a", "b", "c", "d"]
    assert foreign.id not in await s.job_order(world.env, "name", False)
    assert await s.job_order(world.other_env, "duration", True) == [foreign.id]

    marks = await s.recent_runs(world.env, [a.id, b.id], 5)
    assert [m.duration for m in marks[a.id]] == [5000]
    assert [m.duration for m in marks[b.id]] == [100, None]


async def test_run_days_count_per_utc_day_and_status(world: World) -> None:
    s = world.store
    job, other = await world.job("daily"), await world.job("other")
    day0 = T0.replace(hour=0)
    made = []
    for when in (day0 - timedelta(days=3), day0 + timedelta(hours=23, minutes=59),
                 day0 + timedelta(hours=24), day0 + timedelta(hours=30)):
        made.append(await s.trigger(world.env, job.id, when))  # manual runs: in time order
    made = made[1:] + made[:1]
    await s.complete(world.env, made[1].id, FAIL, made[1].scheduled_for)
    await s.complete(world.env, made[2].id, OK, made[2].scheduled_for)
    await s.trigger(world.env, other.id, day0 + timedelta(hours=1))
    foreign = await world.job("daily", env=world.other_env)
    await s.trigger(world.other_env, foreign.id, day0 + timedelta(hours=1))

    got = await s.run_days(world.env, job.id, day0 - timedelta(days=1))
    first = int(day0.timestamp()) // 86_400
    assert [(g.day - first, g.status, g.count) for g in got] == [
        (0, "pending", 1), (1, "completed", 1), (1, "failed", 1)]
    assert await s.run_days(world.other_env, job.id, day0 - timedelta(days=9)) == []
    assert [g.count for g in await s.run_days(world.env, job.id, day0 - timedelta(days=9))] \
        == [1, 1, 1, 1]

    between = await s.runs_between(world.env, job.id, day0 + timedelta(hours=24),
                                   day0 + timedelta(hours=48), 10)
    assert [r.id for r in between] == [made[2].id, made[1].id]  # newest first
    assert [r.id for r in await s.runs_between(world.env, job.id, day0, day0 + timedelta(
        hours=24), 10)] == [made[0].id]  # the end is excluded, 23:59 is in
    assert len(await s.runs_between(world.env, job.id, day0, day0 + timedelta(days=9), 1)) == 1
    assert await s.runs_between(world.env, job.id, day0, day0 + timedelta(days=2), 0) == []
    assert await s.runs_between(world.other_env, job.id, day0, day0 + timedelta(days=9), 9) == []


async def test_needs_attention_lists_late_expired_and_missed_runs(world: World) -> None:
    s = world.store
    job = await world.job("flaky")
    fresh, stale, expired, missed, skipped, done = (await world.runs(job, 6))
    await _set_run(world, fresh.id, due_at=at(100))
    await _set_run(world, stale.id, due_at=at(-100))
    await _set_run(world, expired.id, status="expired", error="nothing took it")
    await _set_run(world, missed.id, status="skipped", error="missed 2 scheduled run(s)")
    await _set_run(world, skipped.id, status="skipped", error="skipped: the previous run")
    await s.complete(world.env, done.id, FAIL, at(1))
    await _set_run(world, expired.id, scheduled_for=at(-10))
    foreign = await world.job("flaky", env=world.other_env)
    other = (await world.runs(foreign))[0]
    await _set_run(world, other.id, due_at=at(-100), status="pending")

    got = await s.needs_attention(world.env, at(0), at(-60), 10)
    assert {g.id for g in got} == {stale.id, expired.id, missed.id}
    assert all(g.job_name == "flaky" and g.job_id == job.id for g in got)
    assert [g.id for g in got][-1] == expired.id  # newest first: the oldest scheduled last
    assert {g.id for g in await s.needs_attention(world.env, at(0), at(-5), 10)} == {
        stale.id, missed.id}  # expired before ``since``: not listed (a late one still is)
    two = await s.needs_attention(world.env, at(0), at(-60), 1)  # at most 1 of each kind
    assert {g.status for g in two} == {"pending", "skipped"} and len(two) == 2
    assert await s.needs_attention(world.env, at(0), at(-60), 0) == []
    assert [g.id for g in await s.needs_attention(world.other_env, at(0), at(-60), 9)] == [
        other.id]
