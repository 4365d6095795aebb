"""Contract: ExecutionStore and ClaimStore (storage/contracts.py), on SQLite and PostgreSQL.
An execution or job of another environment answers like a missing one."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from schedo.server.domain.errors import Conflict, NotFound
from schedo.server.domain.model import JobStatus, JobType, RunStatus, Source, Trigger
from schedo.server.domain.records import Completion
from tests.contract.kit import (
    FAIL,
    OK,
    T0,
    Stores,
    World,
    at,
    build_world,
    plan,
    planner,
)

SDK = [JobType.SDK.value]

# -- reads ----------------------------------------------------------------------------------------


async def test_list_executions_is_newest_first_below_the_cursor(world: World) -> None:
    job = await world.job("a")
    await world.job("b")  # runs of another job are not listed
    ids = [e.id for e in await world.runs(job, 4)]
    s = world.store
    assert [e.id for e in await s.list_executions(world.env, job.id, None, 10)] == ids[::-1]
    assert [e.id for e in await s.list_executions(world.env, job.id, None, 2)] == ids[:1:-1]
    assert [e.id for e in await s.list_executions(world.env, job.id, ids[2], 10)] == [
        ids[1], ids[0]]


async def test_executions_and_their_listing_of_another_environment_are_not_found(
    world: World,
) -> None:
    job = await world.job("a", env=world.env2)
    [run] = await world.runs(job)
    assert await world.store.get_execution(world.env2, run.id) == run
    for env in (world.env, world.other_env):
        with pytest.raises(NotFound):
            await world.store.get_execution(env, run.id)
        with pytest.raises(NotFound):
            await world.store.list_executions(env, job.id, None, 10)
    with pytest.raises(NotFound):
        await world.store.get_execution(world.env2, run.id + 1000)


async def test_last_run_is_the_latest_non_skipped_execution(world: World) -> None:
    s = world.store
    job = await world.job("a", blocking=True, next_run_at=at(60))
    assert await s.last_run(world.env, job.id) is None
    [run] = await world.runs(job)
    res = await s.tick(at(60), 10, planner({job.id: plan(at(60), next_run_at=at(120))}))
    assert [e.status for e in res.created] == [RunStatus.SKIPPED]  # blocked by ``run``
    assert (await s.last_run(world.env, job.id)) == run
    assert await s.last_run(world.env2, job.id) is None  # another environment: no such job


# -- trigger ----------------------------------------------------------------------------------


async def test_trigger_creates_a_manual_run_due_now(world: World) -> None:
    job = await world.job("a", metadata={"k": "v"})
    run = await world.store.trigger(world.env, job.id, at(7))
    assert (run.job_id, run.environment_id, run.job_code, run.job_type) == (
        job.id, world.env, "a", JobType.SDK)
    assert (run.status, run.attempt, run.trigger, run.source) == (
        RunStatus.PENDING, 1, Trigger.MANUAL, Source.MANUAL)
    assert (run.due_at, run.created_at, run.metadata) == (at(7), at(7), {"k": "v"})
    assert await world.store.get_execution(world.env, run.id) == run
    again = await world.store.trigger(world.env, job.id, at(7))  # same instant: a second run
    assert again.id != run.id and again.status == RunStatus.PENDING


async def test_trigger_of_a_blocking_job_with_a_live_run_is_a_conflict(world: World) -> None:
    job = await world.job("a", blocking=True)
    await world.claimed(job)
    with pytest.raises(Conflict):
        await world.store.trigger(world.env, job.id, at(1))
    assert len(await world.store.list_executions(world.env, job.id, None, 10)) == 1


async def test_trigger_of_a_job_of_another_environment_is_not_found(world: World) -> None:
    job = await world.job("a", env=world.env2)
    with pytest.raises(NotFound):
        await world.store.trigger(world.env, job.id, T0)
    assert await world.store.list_executions(world.env2, job.id, None, 10) == []


# -- complete ---------------------------------------------------------------------------------


async def test_complete_ends_a_running_or_a_pending_run(world: World) -> None:
    s = world.store
    job = await world.job("a")
    running = await world.claimed(job)
    done, changed = await s.complete(world.env, running.id, OK, at(3))
    assert changed is True
    assert (done.status, done.output, done.start_time, done.end_time, done.duration) == (
        RunStatus.COMPLETED, "fine", T0, at(3), 3000)
    assert await s.get_execution(world.env, running.id) == done
    [pending] = await world.runs(job, now=at(4))
    failed, changed = await s.complete(world.env, pending.id, FAIL, at(5))
    assert changed and (failed.status, failed.error, failed.exit_code) == (
        RunStatus.FAILED, "boom", 1)


async def test_repeating_the_outcome_of_an_ended_run_changes_nothing(world: World) -> None:
    job = await world.job("a")
    run = await world.claimed(job)
    done, _ = await world.store.complete(world.env, run.id, OK, at(3))
    again, changed = await world.store.complete(
        world.env, run.id, Completion(success=True, output="other"), at(9))
    assert changed is False
    assert again == done
    assert await world.store.get_execution(world.env, run.id) == done


async def test_another_report_on_an_ended_run_is_a_conflict(world: World) -> None:
    s = world.store
    job = await world.job("a", timeout_seconds=10)
    run = await world.claimed(job)
    done, _ = await s.complete(world.env, run.id, OK, at(3))
    with pytest.raises(Conflict):
        await s.complete(world.env, run.id, FAIL, at(4))
    [late] = await world.runs(job, now=at(10))
    [expired] = await s.expire_overdue(at(60))
    assert expired.id == late.id
    for report in (OK, FAIL):  # an expired run takes no report
        with pytest.raises(Conflict):
            await s.complete(world.env, late.id, report, at(61))
    assert await s.get_execution(world.env, run.id) == done


async def test_complete_of_a_run_of_another_environment_is_not_found(world: World) -> None:
    job = await world.job("a", env=world.env2)
    run = await world.claimed(job)
    with pytest.raises(NotFound):
        await world.store.complete(world.env, run.id, OK, at(1))
    assert (await world.store.get_execution(world.env2, run.id)).status == RunStatus.RUNNING


async def test_a_failure_creates_the_retry_the_job_allows(world: World) -> None:
    s = world.store
    job = await world.job("a", max_retries=1)
    run = await world.claimed(job)
    await s.complete(world.env, run.id, FAIL, at(2))
    [retry, _] = await s.list_executions(world.env, job.id, None, 10)
    assert (retry.status, retry.attempt, retry.trigger, retry.source) == (
        RunStatus.PENDING, 2, Trigger.RETRY, run.source)
    assert retry.scheduled_for == run.scheduled_for
    assert retry.due_at > at(2)  # after the backoff
    assert (await s.get_job(world.env, job.id)).status == JobStatus.PENDING
    claimed = await s.claim(world.env, None, SDK, retry.due_at, 1)
    await s.complete(world.env, claimed[0].id, FAIL, retry.due_at + timedelta(seconds=1))
    assert len(await s.list_executions(world.env, job.id, None, 10)) == 2  # no retries left
    assert (await s.get_job(world.env, job.id)).status == JobStatus.FAILED


async def test_complete_many_gives_each_report_its_own_outcome(world: World) -> None:
    s = world.store
    job = await world.job("a")
    first, ended, last = await world.runs(job, 3)
    await s.complete(world.env, ended.id, OK, at(1))
    foreign = await world.claimed(await world.job("b", env=world.env2))
    out = await s.complete_many(world.env, [
        (first.id, OK), (foreign.id, OK), (ended.id, FAIL), (999_999, OK), (last.id, FAIL),
    ], at(2))
    assert [i for i, _ in out] == [first.id, foreign.id, ended.id, 999_999, last.id]
    outcomes = [r for _, r in out]
    assert isinstance(outcomes[1], NotFound) and isinstance(outcomes[3], NotFound)
    assert isinstance(outcomes[2], Conflict)
    assert [(e.status, changed) for e, changed in (outcomes[0], outcomes[4])] == [
        (RunStatus.COMPLETED, True), (RunStatus.FAILED, True)]
    assert (await s.get_execution(world.env, first.id)).status == RunStatus.COMPLETED
    assert (await s.get_execution(world.env, last.id)).status == RunStatus.FAILED
    assert (await s.get_execution(world.env2, foreign.id)).status == RunStatus.RUNNING


# -- claims -----------------------------------------------------------------------------------


async def test_claim_marks_due_pending_runs_running(world: World) -> None:
    s = world.store
    job = await world.job("a", timeout_seconds=30)
    [late] = await world.runs(job, now=at(5))
    [early] = await world.runs(job, now=at(1))
    [future] = await world.runs(job, now=at(100))
    got = await s.claim(world.env, ["a"], SDK, at(10), 10)
    assert [e.id for e in got] == [early.id, late.id]
    for e in got:
        assert (e.status, e.pick_up_time, e.start_time, e.run_deadline) == (
            RunStatus.RUNNING, at(10), at(10), at(10 + 30 + 5))
        assert await s.get_execution(world.env, e.id) == e
    assert await s.claim(world.env, ["a"], SDK, at(10), 10) == []  # ``future`` is not due
    assert (await s.get_execution(world.env, future.id)).status == RunStatus.PENDING
    assert (await s.get_job(world.env, job.id)).status == JobStatus.PENDING  # ``future``


async def test_claim_takes_at_most_limit_runs_oldest_due_first(
    world: World,
) -> None:
    s = world.store
    job = await world.job("a")
    second, first, third = [(await world.runs(job, now=at(t)))[0] for t in (3, 1, 5)]
    assert [e.id for e in await s.claim(world.env, ["a"], SDK, at(10), 1)] == [first.id]
    assert [e.id for e in await s.claim(world.env, ["a"], SDK, at(10), 1)] == [second.id]
    assert (await s.get_execution(world.env, third.id)).status == RunStatus.PENDING


async def test_claim_filters_by_environment_code_and_type(world: World) -> None:
    s = world.store
    a = await world.job("a")
    b = await world.job("b")
    push = await world.job("p", type=JobType.PUSH, webhook_url="https://x.example.com")
    theirs = await world.job("a", env=world.env2)
    for j in (a, b, push, theirs):
        await world.runs(j)
    assert [e.job_code for e in await s.claim(world.env, ["b"], SDK, T0, 10)] == ["b"]
    assert await s.claim(world.env, ["a"], [JobType.PUSH.value], T0, 10) == []
    got = await s.claim(world.env, None, [JobType.SDK.value, JobType.PUSH.value], T0, 10)
    assert sorted(e.job_code for e in got) == ["a", "p"]
    assert {e.environment_id for e in got} == {world.env}
    assert [e.job_id for e in await s.claim(world.env2, None, SDK, T0, 10)] == [theirs.id]


async def test_claim_and_earliest_due_with_many_codes_match_exactly(world: World) -> None:
    """A worker naming thousands of codes (one bound list, whatever its length): only runs of
    the named codes, codes with quotes and commas taken as they are."""
    s = world.store
    odd = await world.job("it's, odd\"")
    kept = await world.job("kept")
    left = await world.job("left")
    for j in (odd, kept, left):
        await world.runs(j)
    many = [f"code-{i}" for i in range(3000)] + ["it's, odd\"", "kept"]
    assert await s.earliest_pending_due(world.env, many, SDK) is not None
    got = await s.claim(world.env, many, SDK, T0, 10)
    assert sorted(e.job_code for e in got) == sorted(["it's, odd\"", "kept"])
    assert await s.claim(world.env, many, SDK, T0, 10) == []
    assert await s.earliest_pending_due(world.env, many, SDK) is None
    assert [e.job_code for e in await s.claim(world.env, None, SDK, T0, 10)] == ["left"]


async def test_a_claim_of_many_codes_behind_other_jobs_runs_takes_its_own_earliest(
    world: World,
) -> None:
    """A worker naming many codes while hundreds of other jobs' runs are due earlier: its
    own earliest runs, in due order, whatever the limit."""
    s = world.store
    other, mine = await world.job("other"), await world.job("mine")
    await world.runs(other, 300, now=T0 - timedelta(seconds=10))  # due earlier
    own = await world.runs(mine, 4, now=T0)
    many = [f"code-{i}" for i in range(20)] + ["mine"]
    assert [e.id for e in await s.claim(world.env, many, SDK, T0, 2)] == [r.id for r in own[:2]]
    assert [e.id for e in await s.claim(world.env, many, SDK, T0, 40)] == [
        r.id for r in own[2:]]
    assert await s.claim(world.env, many, SDK, T0, 40) == []
    assert len(await s.claim(world.env, ["other"], SDK, T0, 500)) == 300


async def test_claim_never_returns_an_execution_to_two_callers(stores: Stores) -> None:
    world = await build_world(await stores.open())
    other_process = await stores.open()
    job = await world.job("a", next_run_at=T0)
    runs = await world.store.tick(T0, 10, planner({job.id: plan(
        *(T0 - timedelta(seconds=i) for i in range(40, 0, -1)), next_run_at=at(300))}))
    assert len(runs.created) == 40
    results = await asyncio.gather(*(
        (world.store, other_process)[i % 2].claim(world.env, ["a"], SDK, T0, 7)
        for i in range(8)
    ))
    ids = [e.id for got in results for e in got]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(e.id for e in runs.created)
    for e in await world.store.list_executions(world.env, job.id, None, 100):
        assert e.status == RunStatus.RUNNING


async def test_claim_with_a_revoked_key_claims_nothing(world: World) -> None:
    s = world.store
    key = await world.key(world.env)
    job = await world.job("a")
    [run] = await world.runs(job)
    await s.revoke_key(world.org, key.id, None, T0)
    assert await s.claim(world.env, ["a"], SDK, at(1), 10, key_id=key.id) == []
    assert (await s.get_execution(world.env, run.id)).status == RunStatus.PENDING
    live = await world.key(world.env)
    assert [e.id for e in await s.claim(world.env, ["a"], SDK, at(1), 10, key_id=live.id)] == [
        run.id]


async def test_release_returns_running_runs_to_pending(world: World) -> None:
    s = world.store
    job = await world.job("a", timeout_seconds=30)
    run = await world.claimed(job)
    assert (await s.get_job(world.env, job.id)).status == JobStatus.RUNNING
    released = await s.release(world.env, [run.id], at(20))
    assert [e.id for e in released] == [run.id]
    e = released[0]
    assert (e.status, e.pick_up_time) == (RunStatus.PENDING, None)
    assert e.pickup_deadline == at(20 + 30)  # a new pick-up window from ``now``
    assert await s.get_execution(world.env, run.id) == e
    assert (await s.get_job(world.env, job.id)).status == JobStatus.PENDING
    assert [x.id for x in await s.claim(world.env, ["a"], SDK, at(21), 1)] == [run.id]


async def test_release_leaves_runs_not_running_or_of_another_environment_alone(
    world: World,
) -> None:
    s = world.store
    job = await world.job("a")
    ended = await world.claimed(job)
    ended, _ = await s.complete(world.env, ended.id, OK, at(1))
    [pending] = await world.runs(job)
    foreign = await world.claimed(await world.job("b", env=world.env2))
    assert await s.release(world.env, [pending.id, ended.id, foreign.id, 999_999], at(2)) == []
    assert await s.get_execution(world.env, pending.id) == pending
    assert await s.get_execution(world.env, ended.id) == ended
    assert await s.get_execution(world.env2, foreign.id) == foreign


async def test_earliest_pending_due_sees_future_runs_matching_the_filters(world: World) -> None:
    s = world.store
    job = await world.job("a")
    await world.runs(await world.job("b"), now=at(1))
    await world.runs(await world.job("a", env=world.env2), now=at(2))
    assert await s.earliest_pending_due(world.env, ["a"], SDK) is None
    await world.runs(job, now=at(50))
    await world.runs(job, now=at(30))
    assert await s.earliest_pending_due(world.env, ["a"], SDK) == at(30)
    assert await s.earliest_pending_due(world.env, None, SDK) == at(1)
    assert await s.earliest_pending_due(world.env, ["a"], [JobType.PUSH.value]) is None


async def test_claim_any_claims_every_environments_runs_with_their_webhook_targets(
    world: World,
) -> None:
    s = world.store
    mine = await world.job("p", type=JobType.PUSH, webhook_url="https://a.example.com/hook")
    theirs = await world.job("p", env=world.other_env, type=JobType.PUSH,
                             webhook_url="https://b.example.com/hook")
    [r1] = await world.runs(mine, now=at(1))
    [r2] = await world.runs(theirs, now=at(2))
    await world.runs(await world.job("sdk"), now=at(0))
    await world.runs(mine, now=at(100))
    assert await s.earliest_due_of_types([JobType.PUSH.value]) == at(1)
    got = await s.claim_any([JobType.PUSH.value], at(10), 10)
    assert [(e.id, url, key) for e, url, key in got] == [
        (r1.id, "https://a.example.com/hook", "sig-one"),
        (r2.id, "https://b.example.com/hook", "sig-other"),
    ]
    assert all(e.status == RunStatus.RUNNING and e.pick_up_time == at(10) for e, _, _ in got)
    assert await s.claim_any([JobType.PUSH.value], at(10), 10) == []
    assert await s.earliest_due_of_types([JobType.PUSH.value]) == at(100)


async def test_claim_any_takes_at_most_limit_runs_oldest_due_first(
    world: World,
) -> None:
    job = await world.job("p", type=JobType.PUSH, webhook_url="https://a.example.com/hook")
    second, first = [(await world.runs(job, now=at(t)))[0] for t in (3, 1)]
    got = await world.store.claim_any([JobType.PUSH.value], at(10), 1)
    assert [e.id for e, _, _ in got] == [first.id]
    assert (await world.store.get_execution(world.env, second.id)).status == RunStatus.PENDING


async def test_a_claim_mirrors_each_job_from_its_latest_run_only(world: World) -> None:
    """The claim's job status mirror (one statement for the batch, storage/claim_sql.py):
    a job turns running only when its latest non-skipped run was claimed, with that run's
    retries; runs of other jobs, environments and codes leave their jobs alone."""
    s = world.store
    a = await world.job("a")
    b = await world.job("b", max_retries=2)
    c = await world.job("c")
    a_other = await world.job("a", env=world.other_env)
    first, second, third = await world.runs(a, 3)
    await world.runs(a_other)
    [b1] = await world.runs(b)
    got = await s.claim(world.env, ["a"], SDK, T0, 2)
    assert [e.id for e in got] == [first.id, second.id]
    assert (await s.get_job(world.env, a.id)).status == JobStatus.PENDING  # third is later
    [b1] = await s.claim(world.env, ["b"], SDK, T0, 1)
    await s.complete(world.env, b1.id, FAIL, at(1))
    retry = await s.claim(world.env, ["b"], SDK, at(3600), 5)
    assert [(e.job_code, e.attempt) for e in retry] == [("b", 2)]
    job_b = await s.get_job(world.env, b.id)
    assert (job_b.status, job_b.retry_count) == (JobStatus.RUNNING, 1)
    # nine codes: bound as one parameter, not an IN list
    codes = ["a", "c", *(f"z{i}" for i in range(7))]
    assert [e.id for e in await s.claim(world.env, codes, SDK, T0, 10)] == [third.id]
    job_a = await s.get_job(world.env, a.id)
    assert (job_a.status, job_a.retry_count) == (JobStatus.RUNNING, 0)
    assert (await s.get_job(world.env, c.id)).status != JobStatus.RUNNING
    assert (await s.get_job(world.other_env, a_other.id)).status != JobStatus.RUNNING
