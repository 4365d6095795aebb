"""Contract: NotifyStore (storage/contracts.py) and the outbox rows that ``complete`` and
``expire_overdue`` write, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from schedo.server.domain.model import RunStatus
from schedo.server.domain.records import Completion, Run
from schedo.server.storage.contracts import Notification
from tests.contract.kit import (
    FAIL,
    OK,
    T0,
    Stores,
    World,
    at,
    build_world,
)

HOOK = "https://alerts.example.com/schedo"


async def ended(world: World, name: str, report: Completion = FAIL, env: int | None = None,
                now: datetime = T0, **spec: object) -> Run:
    """A run of job ``name`` (created if needed) claimed at ``now`` and ended a second later."""
    s = world.store
    job = await s.get_job_by_name(env or world.env, name) or await world.job(name, env=env,
                                                                              **spec)
    run = await world.claimed(job, now=now)
    done, _ = await s.complete(job.environment_id, run.id, report, now + timedelta(seconds=1))
    return done


async def notifications(world: World, org: int | None = None) -> list[Notification]:
    got = await world.store.list_notifications(org or world.org, 100)
    return [r.notification for r in got]


# -- the outbox -------------------------------------------------------------------------------


async def test_a_failed_last_attempt_writes_one_failing_notification(world: World) -> None:
    run = await ended(world, "nightly", Completion(success=False, error="boom", output="log"))
    [n] = await notifications(world)
    assert (n.kind, n.organization_id, n.environment_id, n.job_name, n.execution_id) == (
        "failing", world.org, world.env, "nightly", run.id)
    assert (n.execution_status, n.attempt, n.scheduled_for, n.ended_at) == (
        "failed", 1, run.scheduled_for, at(1))
    assert (n.error, n.output, n.created_at) == ("boom", "log", at(1))
    await world.store.complete(world.env, run.id, FAIL, at(5))  # a repeated report
    await ended(world, "nightly", now=at(10))  # still failing: no second turn
    assert len(await notifications(world)) == 1


async def test_a_success_after_failing_writes_recovered_and_a_first_success_nothing(
    world: World,
) -> None:
    await ended(world, "nightly", OK)
    assert await notifications(world) == []
    await ended(world, "nightly", FAIL, now=at(10))
    back = await ended(world, "nightly", OK, now=at(20))
    recovered, failing = await notifications(world)
    assert (failing.kind, recovered.kind) == ("failing", "recovered")
    assert (recovered.execution_id, recovered.execution_status) == (back.id, "completed")


async def test_muted_jobs_and_attempts_to_be_retried_write_no_notification(
    world: World,
) -> None:
    muted = await world.job("muted")
    await world.store.update_job_flags(world.env, muted.id, T0, muted=True)
    await ended(world, "muted")
    await ended(world, "retried", max_retries=1)
    assert await notifications(world) == []


async def test_an_expired_last_attempt_writes_the_failing_notification(world: World) -> None:
    job = await world.job("a", timeout_seconds=30)
    [run] = await world.runs(job)
    await world.store.expire_overdue(at(60))
    [n] = await notifications(world)
    assert (n.kind, n.execution_id, n.execution_status, n.ended_at) == (
        "failing", run.id, "expired", at(60))


# -- fan-out ------------------------------------------------------------------------------------


async def test_fan_out_makes_one_pending_delivery_per_address_and_webhook_once(
    world: World,
) -> None:
    s = world.store
    await s.add_email(world.org, "b@example.com", T0)
    await s.add_email(world.org, "a@example.com", T0)
    await s.add_email(world.other_org, "theirs@example.com", T0)
    await ended(world, "nightly")
    assert (await s.notify_work()).unfanned is True
    assert await s.fan_out(at(5), HOOK, 10) == 1
    [record] = await s.list_notifications(world.org, 10)
    assert [(d.channel, d.target, d.status, d.tries, d.next_attempt_at, d.sent_at)
            for d in record.deliveries] == [
        ("email", "b@example.com", "pending", 0, at(5), None),
        ("email", "a@example.com", "pending", 0, at(5), None),
        ("webhook", HOOK, "pending", 0, at(5), None),
    ]
    work = await s.notify_work()
    assert (work.unfanned, work.next_attempt_at) == (False, at(5))
    assert await s.fan_out(at(6), HOOK, 10) == 0  # never twice
    assert len((await s.list_notifications(world.org, 10))[0].deliveries) == 3


async def test_fan_out_takes_the_oldest_up_to_limit_with_the_emails_of_that_moment(
    world: World,
) -> None:
    s = world.store
    first = await ended(world, "a")
    await ended(world, "b", now=at(10))
    await s.add_email(world.org, "late@example.com", at(20))  # added after the notifications
    assert await s.fan_out(at(30), None, 1) == 1
    second, oldest = await s.list_notifications(world.org, 10)
    assert oldest.notification.execution_id == first.id
    assert [(d.channel, d.target) for d in oldest.deliveries] == [("email", "late@example.com")]
    assert second.deliveries == []
    assert (await s.notify_work()).unfanned is True
    assert await s.fan_out(at(31), None, 10) == 1


# -- claims and outcomes ------------------------------------------------------------------------


async def _deliveries(world: World, emails: int, now: datetime = T0) -> None:
    for i in range(emails):
        await world.store.add_email(world.org, f"u{i}@example.com", now)
    await ended(world, "nightly", now=now)
    assert await world.store.fan_out(now, None, 10) == 1


async def test_due_deliveries_leases_what_it_claims(world: World) -> None:
    s = world.store
    await _deliveries(world, 2)
    got = await s.due_deliveries(at(1), 10, lease_seconds=120)
    assert [(g.delivery.target, g.delivery.tries, g.delivery.next_attempt_at) for g in got] == [
        ("u0@example.com", 1, at(121)), ("u1@example.com", 1, at(121))]
    assert all(g.environment_name == "production" for g in got)
    assert all(g.notification.job_name == "nightly" for g in got)
    assert await s.due_deliveries(at(120), 10) == []  # leased
    again = await s.due_deliveries(at(121), 10)
    assert [g.delivery.tries for g in again] == [2, 2]


async def test_due_deliveries_claims_at_most_limit_earliest_first(
    world: World,
) -> None:
    s = world.store
    await _deliveries(world, 3)
    [d0, d1, d2] = (await s.list_notifications(world.org, 1))[0].deliveries
    assert await s.mark_retry(d0.id, "later", at(9))
    assert [g.delivery.id for g in await s.due_deliveries(at(10), 1)] == [d1.id]
    assert [g.delivery.id for g in await s.due_deliveries(at(10), 1)] == [d2.id]


async def test_due_deliveries_never_hands_a_delivery_to_two_senders(stores: Stores) -> None:
    world = await build_world(await stores.open())
    other_process = await stores.open()
    await _deliveries(world, 12)
    results = await asyncio.gather(*(
        (world.store, other_process)[i % 2].due_deliveries(at(1), 4) for i in range(6)))
    ids = [g.delivery.id for got in results for g in got]
    assert len(ids) == len(set(ids)) == 12


async def test_mark_calls_change_only_a_pending_delivery(world: World) -> None:
    s = world.store
    await _deliveries(world, 4)
    sent, failed, skipped, retried = (await s.list_notifications(world.org, 1))[0].deliveries
    await s.due_deliveries(at(1), 10)
    assert await s.mark_retry(sent.id, "timeout", at(2)) is True
    assert await s.mark_sent(sent.id, at(3)) is True
    assert await s.mark_failed(failed.id, "550 no such user") is True
    assert await s.mark_skipped(skipped.id, "no SMTP server") is True
    for did in (sent.id, failed.id, skipped.id):  # ended: every mark_* is refused
        assert await s.mark_sent(did, at(4)) is False
        assert await s.mark_retry(did, "x", at(4)) is False
        assert await s.mark_failed(did, "x") is False
        assert await s.mark_skipped(did, "x") is False
    assert await s.mark_retry(retried.id, "503", at(300)) is True
    got = {d.id: d for d in (await s.list_notifications(world.org, 1))[0].deliveries}
    assert (got[sent.id].status, got[sent.id].sent_at, got[sent.id].last_error) == (
        "sent", at(3), None)
    assert (got[failed.id].status, got[failed.id].last_error, got[failed.id].tries) == (
        "failed", "550 no such user", 1)
    assert (got[skipped.id].status, got[skipped.id].last_error, got[skipped.id].tries) == (
        "skipped", "no SMTP server", 0)  # the claim that led here was not a try
    r = got[retried.id]
    assert (r.status, r.last_error, r.next_attempt_at, r.tries) == ("pending", "503", at(300), 1)
    assert (await s.notify_work()).next_attempt_at == at(300)
    assert await s.due_deliveries(at(299), 10) == []
    assert [g.delivery.id for g in await s.due_deliveries(at(300), 10)] == [retried.id]


# -- listing ------------------------------------------------------------------------------------


async def test_list_notifications_is_newest_first_and_never_another_organisations(
    world: World,
) -> None:
    s = world.store
    a = await ended(world, "a")
    b = await ended(world, "b", env=world.env2, now=at(10))
    await ended(world, "theirs", env=world.other_env, now=at(20))
    await s.add_email(world.org, "ops@example.com", T0)
    await s.fan_out(at(30), HOOK, 10)
    listed = await s.list_notifications(world.org, 10)
    assert [r.notification.execution_id for r in listed] == [b.id, a.id]
    assert [d.channel for d in listed[0].deliveries] == ["email", "webhook"]
    assert [r.notification.execution_id for r in await s.list_notifications(world.org, 1)] == [
        b.id]
    only_env = await s.list_notifications(world.org, 10, env_id=world.env)
    assert [r.notification.execution_id for r in only_env] == [a.id]
    assert await s.list_notifications(world.org, 10, env_id=world.other_env) == []
    [theirs] = await s.list_notifications(world.other_org, 10)
    assert theirs.notification.job_name == "theirs"
    assert {r.notification.environment_id for r in listed} == {world.env, world.env2}
    assert all(r.notification.execution_status == RunStatus.FAILED.value for r in listed)
