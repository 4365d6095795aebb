"""Retention: old executions and notifications are pruned in small batches; the latest run of
each job (and its latest non-skipped one) and live runs are never deleted; the ticker's
writes keep flowing while a large pass runs."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from schedo.server.notify.sender import Notifier
from schedo.server.scheduler.retention import Retention
from schedo.server.scheduler.ticker import Ticker
from schedo.server.storage.schema import executions, notification_deliveries, notifications
from tests.conftest import START
from tests.hardening.conftest import HApi, value

DAY = timedelta(days=1)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"retention_days": 30, "retention_batch_size": 4}


async def _rows(h: HApi, job_id: int) -> list[tuple[int, str]]:
    async with h.svc.store.db.read() as c:  # type: ignore[attr-defined]
        res = await c.execute(select(executions.c.id, executions.c.status)
                              .where(executions.c.job_id == job_id).order_by(executions.c.id))
        return [(r.id, r.status) for r in res]


async def _count(h: HApi, table: Any) -> int:
    async with h.svc.store.db.read() as c:  # type: ignore[attr-defined]
        return int((await c.execute(select(func.count()).select_from(table))).scalar_one())


async def _claim(h: HApi, code: str) -> list[dict[str, Any]]:
    r = await h.client.get(f"/jobs/executions?jobs={code}&wait=0&limit=50", headers=h.admin)
    assert r.status_code == 200, r.text
    return list(r.json())


async def _complete(h: HApi, exec_id: int, success: bool = True) -> None:
    r = await h.client.post(f"/jobs/executions/complete/{exec_id}",
                            json={"success": success}, headers=h.admin)
    assert r.status_code == 200, r.text


async def test_prune_keeps_latest_runs_live_runs_and_recent_history(hapi: HApi) -> None:
    h, ticker = hapi, Ticker(hapi.svc)
    await h.client.post("/org/emails", json="ops@example.com", headers=h.admin)
    done = await h.define(name="done-job", schedule="* * * * *")
    blocking = await h.define(name="blocked-job", schedule="* * * * *", blocking=True)
    running = await h.define(name="running-job", schedule="* * * * *")
    turned = await h.define(name="turned-job", schedule="* * * * *", blocking=True)
    failing = await h.define(name="failing-job", schedule="0 0 1 1 *")
    for minute in range(1, 7):  # six old ticks of each job, at START + minutes
        h.clock.set(START + timedelta(minutes=minute))
        await ticker.tick_once(h.clock.now())
        for run in await _claim(h, "done-job"):
            await _complete(h, run["id"])
        if minute == 1:
            await _claim(h, "running-job")  # picked up, never reported: stays running
            [first] = await _claim(h, "turned-job")
        if minute == 2:
            await _complete(h, first["id"])  # turned-job: completed, then only skipped ticks
            await h.client.patch(f"/jobs/pause/{turned['id']}", headers=h.admin)
    # notifications: one sent-and-done, one never fanned out
    await h.client.post(f"/jobs/trigger/{failing['id']}", headers=h.admin)
    [run] = await _claim(h, "failing-job")
    await _complete(h, run["id"], success=False)
    notifier = Notifier(h.svc)
    await notifier.send_once(h.clock.now())  # no SMTP: the delivery is skipped (final)
    await notifier.aclose()
    await _complete(h, (await _trigger_and_claim(h, failing["id"]))["id"], success=True)
    assert await h.svc.store.fan_out(h.clock.now(), None, 10) == 1  # "recovered": one pending
    await _complete(h, (await _trigger_and_claim(h, failing["id"]))["id"], success=False)
    for job in (done, blocking, running, failing):
        await h.client.patch(f"/jobs/pause/{job['id']}", headers=h.admin)

    # a month later: recent history of a new job
    h.clock.set(START + 31 * DAY)
    recent = await h.define(name="recent-job", schedule="* * * * *")
    for minute in range(1, 4):
        h.clock.set(START + 31 * DAY + timedelta(minutes=minute))
        await ticker.tick_once(h.clock.now())
    before = {j["name"]: await _rows(h, j["id"])
              for j in (done, blocking, running, turned, recent)}
    assert len(before["done-job"]) == 6 and len(before["recent-job"]) == 3

    res = await Retention(h.svc, pause=0).prune_once(h.clock.now())

    after = {j["name"]: await _rows(h, j["id"])
             for j in (done, blocking, running, turned, recent)}
    assert after["done-job"] == before["done-job"][-1:]  # only its latest run
    # blocking: the first run is still pending (live), skipped ticks after it: only the last
    assert after["blocked-job"] == [before["blocked-job"][0], before["blocked-job"][-1]]
    assert after["blocked-job"][0][1] == "pending"
    # one running and five pending runs: all live, all kept
    assert after["running-job"] == before["running-job"]
    assert after["running-job"][0][1] == "running"
    # turned: completed run 1 (latest non-skipped) and skipped tick 2 (latest of all)
    assert [s for _, s in after["turned-job"]] == ["completed", "skipped"]
    assert after["recent-job"] == before["recent-job"]
    removed = sum(len(before[k]) - len(after[k]) for k in before)
    # failing-job: three runs, only the latest kept
    assert len(await _rows(h, failing["id"])) == 1
    assert res.executions == removed + 2
    # notifications: the first "failing" (its delivery ended) goes; "recovered" (a delivery
    # still pending) and the second "failing" (not fanned out yet) stay
    assert res.notifications == 1
    async with h.svc.store.db.read() as c:  # type: ignore[attr-defined]
        left = [(r.kind, r.fanned_out) for r in await c.execute(
            select(notifications.c.kind, notifications.c.fanned_out))]
    assert left == [("recovered", True), ("failing", False)]
    assert await _count(h, notification_deliveries) == 1
    s = await h.scrape()
    assert value(s, "schedo_retention_deleted_rows_total", table="executions") == res.executions
    # a second pass finds nothing more
    again = await Retention(h.svc, pause=0).prune_once(h.clock.now())
    assert (again.executions, again.notifications) == (0, 0)


async def _trigger_and_claim(h: HApi, job_id: int) -> dict[str, Any]:
    r = await h.client.post(f"/jobs/trigger/{job_id}", headers=h.admin)
    assert r.status_code == 200, r.text
    runs = await _claim(h, r.json()["job_code"])
    assert len(runs) == 1
    return runs[0]


async def test_retention_zero_keeps_everything(hapi: HApi) -> None:
    hapi.svc.settings.retention_days = 0
    await hapi.define(name="kept-job", schedule="* * * * *")
    hapi.clock.set(START + timedelta(minutes=1))
    await Ticker(hapi.svc).tick_once(hapi.clock.now())
    res = await Retention(hapi.svc).prune_once(START + 400 * DAY)
    assert (res.executions, res.notifications) == (0, 0)
    assert await _count(hapi, executions) == 1


# -- invariants over random histories -------------------------------------------------------

STATUSES = ["completed", "failed", "expired", "skipped", "pending", "running"]


def _exec(job: dict[str, Any], status: str, created: datetime, n: int) -> dict[str, Any]:
    return {
        "job_id": job["id"], "environment_id": job["environment_id"], "job_code": job["name"],
        "job_type": "sdk", "status": status, "source": "schedule",
        "scheduled_for": created + timedelta(milliseconds=n), "attempt": 1,
        "trigger": "schedule", "due_at": created, "pickup_deadline": None,
        "run_deadline": None, "timeout_seconds": 60, "pick_up_time": None,
        "start_time": None, "end_time": None, "duration": None, "output": None,
        "error": None, "exit_code": None, "metadata": {}, "created_at": created,
    }


async def _insert(h: HApi, rows: list[dict[str, Any]]) -> None:
    async with h.svc.store.db.write() as c:  # type: ignore[attr-defined]
        await c.execute(executions.insert(), rows)  # executemany


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_histories_keep_every_invariant(hapi: HApi, seed: int) -> None:
    rnd = random.Random(seed)
    jobs = [await hapi.define(name=f"random-{i:02d}", schedule="0 0 1 1 *") for i in range(8)]
    now = START + 100 * DAY
    before = now - 30 * DAY
    rows: list[dict[str, Any]] = []
    t = START
    for n in range(600):  # interleaved jobs, time moving forward with the ids
        t += timedelta(minutes=rnd.randint(1, 400))
        rows.append(_exec(rnd.choice(jobs), rnd.choice(STATUSES), t, n))
    await _insert(hapi, rows)
    async with hapi.svc.store.db.read() as c:  # type: ignore[attr-defined]
        all_rows = list(await c.execute(select(executions).order_by(executions.c.id)))
    res = await Retention(hapi.svc, pause=0).prune_once(now)
    async with hapi.svc.store.db.read() as c:  # type: ignore[attr-defined]
        kept = {r.id for r in await c.execute(select(executions.c.id))}
    by_job: dict[int, list[Any]] = {}
    for r in all_rows:
        by_job.setdefault(r.job_id, []).append(r)
    for runs in by_job.values():
        latest = runs[-1].id
        non_skipped = [r.id for r in runs if r.status != "skipped"]
        must_keep = {latest, *non_skipped[-1:]}
        for r in runs:
            protected = (r.id in must_keep or r.status in ("pending", "running")
                         or r.created_at >= before)
            assert (r.id in kept) == protected, (r.id, r.status, r.created_at)
    assert res.executions == len(all_rows) - len(kept)


async def test_a_large_pass_does_not_hold_up_other_writes(hapi: HApi) -> None:
    hapi.svc.settings.retention_batch_size = 500
    job = await hapi.define(name="huge-history", schedule="0 0 1 1 *")
    t0 = START
    await _insert(hapi, [_exec(job, "completed", t0 + timedelta(seconds=n), n)
                         for n in range(20_000)])
    latencies: list[float] = []
    stop = asyncio.Event()

    async def writer() -> None:  # stands in for the ticker: a small write every 5 ms
        while not stop.is_set():
            started = time.perf_counter()
            await hapi.svc.store.touch_connections(1, ["huge-history"], "w", hapi.clock.now())
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.005)

    task = asyncio.create_task(writer())
    started = time.perf_counter()
    res = await Retention(hapi.svc).prune_once(START + 400 * DAY)
    took = time.perf_counter() - started
    stop.set()
    await task
    assert res.executions == 19_999
    assert await _count(hapi, executions) == 1
    assert len(latencies) > 10, "the writer never got a turn during the pass"
    assert max(latencies) < 1.0, f"a write waited {max(latencies):.2f}s (pass took {took:.1f}s)"


async def test_audit_events_are_pruned_with_the_runs_retention(hapi: HApi) -> None:
    h = hapi
    old = await h.define(name="old-job")  # created at START
    await h.client.patch(f"/jobs/pause/{old['id']}", headers=h.admin)
    h.clock.advance((40 * DAY).total_seconds())
    await h.client.patch(f"/jobs/resume/{old['id']}", headers=h.admin)
    res = await Retention(h.svc, pause=0).prune_once(h.clock.now())
    assert res.audit == 2
    r = await h.client.get("/audit", headers=h.admin)
    assert [e["action"] for e in r.json()] == ["resumed"]
    s = await h.scrape()
    assert value(s, "schedo_retention_deleted_rows_total", table="audit_events") == 2
