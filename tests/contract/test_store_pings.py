"""Contract: PingStore (heartbeat jobs, issue 19) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from schedo.server.domain.errors import NotFound
from schedo.server.domain.model import JobType, RunStatus, Trigger
from schedo.server.domain.pings import Ping, PingKind
from tests.contract.kit import T0, World, at

UUID = "0b6c2b7e-3f0e-4c55-9b0a-5f1a8e7d9c01"


async def hb(world: World, name: str = "hb-job", env: int | None = None,
             uuid: str = UUID, next_run_at: object = None) -> object:
    return await world.job(name, env=env, type=JobType.HEARTBEAT, grace_seconds=120,
                           timeout_seconds=120, blocking=True, ping_uuid=uuid,
                           next_run_at=next_run_at)


async def test_ping_key_is_set_once(world: World) -> None:
    s = world.store
    assert await s.ping_key(world.env) is None
    got = await asyncio.gather(*(s.ensure_ping_key(world.env, f"key-{i}") for i in range(4)))
    assert len(set(got)) == 1 and await s.ping_key(world.env) == got[0]
    with pytest.raises(NotFound):
        await s.ensure_ping_key(999_999, "nope")


async def test_find_ping_job_only_heartbeats_by_their_secrets(world: World) -> None:
    s = world.store
    job = await hb(world)
    await world.job("sdk-job")
    key = await s.ensure_ping_key(world.env, "env-key")
    other_key = await s.ensure_ping_key(world.other_env, "other-key")
    assert (await s.find_ping_job(uuid=UUID)).id == job.id  # type: ignore[union-attr]
    assert (await s.find_ping_job(ping_key=key, name="hb-job")).id == job.id  # type: ignore[union-attr]
    assert await s.find_ping_job(ping_key=key, name="sdk-job") is None
    assert await s.find_ping_job(ping_key=other_key, name="hb-job") is None
    assert await s.find_ping_job(uuid="00000000-0000-0000-0000-000000000000") is None
    assert await s.find_ping_job() is None


async def test_record_ping_starts_ends_and_makes_runs(world: World) -> None:
    s = world.store
    job = await hb(world, next_run_at=at(10))
    # an early ping (the tick 10 s away) takes the upcoming tick's run
    started = await s.record_ping(world.env, job.id, Ping(PingKind.START, rid="r1"), T0)
    assert started is not None and started.status is RunStatus.RUNNING
    assert started.scheduled_for == at(10) and started.metadata["rid"] == "r1"
    assert started.run_deadline == at(120)
    done = await s.record_ping(world.env, job.id,
                               Ping(PingKind.FAIL, rid="r1", body="oops", exit_code=4), at(5))
    assert done is not None and (done.status, done.exit_code, done.duration) == (
        RunStatus.FAILED, 4, 5000)
    assert done.output == "oops"
    after = await s.get_job(world.env, job.id)
    assert after.status.value == "failed" and after.consecutive_failures == 1
    # far from a tick: a run of its own, trigger "ping"
    own = await s.record_ping(world.env, job.id, Ping(PingKind.SUCCESS), at(60))
    assert own is not None and own.trigger is Trigger.PING and own.status is RunStatus.COMPLETED
    assert await s.record_ping(world.env, job.id, Ping(PingKind.LOG, body="x"), at(61)) is None


async def test_record_ping_refuses_other_jobs_and_environments(world: World) -> None:
    s = world.store
    job = await hb(world)
    sdk = await world.job("sdk-job")
    with pytest.raises(NotFound):
        await s.record_ping(world.other_env, job.id, Ping(PingKind.SUCCESS), T0)
    with pytest.raises(NotFound):
        await s.record_ping(world.env, sdk.id, Ping(PingKind.SUCCESS), T0)
    assert await s.list_executions(world.env, sdk.id, None, 10) == []
