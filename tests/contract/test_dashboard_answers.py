"""Contract: the dashboard's index-bounded reads (issues 18 and 22) give the answers of their
plain definitions, on SQLite and PostgreSQL: a random history of two tenants (every status,
missed and other skips, runs in and out of every window, ties of instants), each read compared
with the same answer computed here from all the rows."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select

from schedo.server.storage.schema import executions as e
from tests.contract.kit import World, at

STATUSES = ("pending", "running", "completed", "failed", "expired", "skipped", "cancelled")
ERRORS = (None, "missed: server down", "skipped: overlap", "boom")


async def _history(world: World, seed: int) -> tuple[list[int], list[Any]]:
    rnd = random.Random(seed)
    jobs = [await world.job(f"j{i}") for i in range(5)]
    jobs += [await world.job(f"j{i}", env=world.other_env) for i in range(2)]
    rows = []
    for n in range(400):
        job = rnd.choice(jobs)
        when = at(rnd.choice((-3, -1, 0)) * 86_400 + rnd.randrange(-7200, 7200) // 60 * 60)
        rows.append({
            "job_id": job.id, "environment_id": job.environment_id, "job_code": job.name,
            "job_type": "sdk", "status": rnd.choice(STATUSES), "source": "schedule",
            "scheduled_for": when, "attempt": 1 + n, "trigger": "schedule",
            "due_at": at(rnd.randrange(-7200, 600)), "timeout_seconds": 60,
            "error": rnd.choice(ERRORS), "metadata": {}, "created_at": when,
            "duration": rnd.choice((None, rnd.randrange(1, 9000))),
        })  # fmt: skip
    async with world.store.db.write() as c:
        await c.execute(e.insert(), rows)
    async with world.store.db.read() as c:
        everything = list((await c.execute(select(e).order_by(e.c.id))).all())
    return [j.id for j in jobs], everything


def _missed(r: Any, since: datetime) -> bool:
    return r.scheduled_for >= since and (
        r.status == "expired" or (r.status == "skipped" and (r.error or "").startswith("missed"))
    )



def _newest(rs: list[Any]) -> list[Any]:
    return sorted(rs, key=lambda r: (r.scheduled_for, r.id), reverse=True)

async def test_the_bounded_reads_answer_as_their_definitions(world: World) -> None:
    s = world.store
    job_ids, rows = await _history(world, 18)
    shown: Counter[str] = Counter()  # the answers compared are not all empty
    for env in (world.env, world.other_env):
        mine = [r for r in rows if r.environment_id == env]
        for per_job in (1, 3, 20, 500):
            want: dict[int, list[int]] = {}
            for r in mine:
                want.setdefault(r.job_id, []).append(r.id)
            want = {j: sorted(ids)[-per_job:] for j, ids in want.items()}
            got = await s.recent_runs(env, job_ids, per_job)
            assert {j: [m.id for m in marks] for j, marks in got.items()} == want
            by_id = {r.id: r for r in mine}
            assert all((m.status, m.scheduled_for, m.duration) == (
                by_id[m.id].status, by_id[m.id].scheduled_for, by_id[m.id].duration)
                for marks in got.values() for m in marks)  # fmt: skip
        for since in (at(-86_400), at(-2 * 86_400), at(-10 * 86_400)):
            counts = Counter(r.status for r in mine if r.scheduled_for >= since)
            assert await s.count_runs_since(env, since) == dict(counts)
            for late_before, limit in ((at(-60), 20), (at(-3600), 5), (at(0), 400)):
                late = _newest([r for r in mine
                                if r.status == "pending" and r.due_at < late_before])
                missed = _newest([r for r in mine if _missed(r, since)])
                picked = _newest(late[:limit] + missed[:limit])
                got_n = await s.needs_attention(env, late_before, since, limit)
                assert [a.id for a in got_n] == [r.id for r in picked]  # at most limit of each
                assert all(a.job_name.startswith("j") for a in got_n)
                shown.update(a.status for a in got_n)
    assert shown["pending"] and shown["expired"] and shown["skipped"], shown


async def test_jobs_at_glance_is_the_overview_of_all_the_jobs(world: World) -> None:
    """``jobs_at_glance`` against the same lists taken from every job (``list_jobs``), with
    jobs of every kind in two tenants."""
    from sqlalchemy import update

    from schedo.server.storage.schema import jobs as jobs_t

    rnd = random.Random(22)
    s = world.store
    made = [await world.job(f"g{i}", env=rnd.choice((world.env, world.env, world.other_env)))
            for i in range(40)]
    async with s.db.write() as c:
        for job in made:
            await c.execute(update(jobs_t).where(jobs_t.c.id == job.id).values(
                status=rnd.choice(("pending", "running", "completed", "failed")),
                retry_count=rnd.choice((0, 0, 1)), paused=rnd.random() < 0.3,
                muted=rnd.random() < 0.3, paused_reason=rnd.choice((None, "", "5 failures")),
                next_run_at=rnd.choice((None, at(rnd.randrange(-600, 600) // 60 * 60))),
            ))  # fmt: skip
    for env in (world.env, world.other_env, world.env2):
        every = await s.list_jobs(env)
        got = await s.jobs_at_glance(env, 10, 4)
        assert (got.total, got.paused) == (len(every), sum(j.paused for j in every))
        assert got.failing == [j for j in every if j.status == "failed"
                               or (j.status == "pending" and j.retry_count > 0)]
        due = sorted((j for j in every if not j.paused and j.next_run_at is not None),
                     key=lambda j: (j.next_run_at, j.id))
        assert got.next_due == due[:10]
        assert got.auto_paused == [j for j in every if j.paused and j.paused_reason][:4]
        assert got.muted == [j for j in every if j.muted][:4]
        assert all(j.environment_id == env for j in [*got.failing, *got.next_due])
    assert (await s.jobs_at_glance(world.env, 10, 4)).failing  # the lists are not all empty
