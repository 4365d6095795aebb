"""The worker runtime with an executor of our own, against a real server: what ``schedo
worker`` and ``schedo agent`` share (pulling a scope, reporting what the executor returns,
the stop requests), apart from either executor."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

import schedo
from schedo import Execution
from schedo.sdk import endpoints
from schedo.sdk.executor import Abort, Outcome
from schedo.sdk.runtime import PullScope, Runtime
from schedo.sdk.voice import Voice
from tests.support.server import ADMIN_KEY, ServerProcess

NEVER = "0 0 1 1 *"


def test_a_command_pull_names_its_type_and_codes_only_when_given() -> None:
    every = endpoints.pull_executions(None, 25.0, 4, worker_id="w", job_type="command")
    assert every.params == {"type": "command", "wait": 25, "limit": 4}
    assert every.headers == {"x-schedo-worker-id": "w"}
    some = endpoints.pull_executions(["a", "b"], 0, 2, job_type="command")
    assert some.params == {"type": "command", "jobs": "a,b", "wait": 0, "limit": 2}
    assert endpoints.pull_executions(["a"], 25, 10).params == {
        "jobs": "a", "wait": 25, "limit": 10}
    with pytest.raises(ValueError, match="at least one job"):
        endpoints.pull_executions(None)


class Recorder:
    """An executor that answers with ``outcome``, or waits for the abort when told to."""

    def __init__(self, outcome: Outcome | None = None, *, hang: bool = False) -> None:
        self.outcome = outcome
        self.hang = hang
        self.started = asyncio.Event()
        self.seen: list[Execution] = []
        self.closed = False

    async def run(self, execution: Execution, abort: Abort) -> Outcome | None:
        self.seen.append(execution)
        self.started.set()
        if self.hang:
            await abort.wait()
            return Outcome(False, None, f"given up: {abort.reason}")
        if self.outcome is None:
            raise RuntimeError("a bug in the executor")
        return self.outcome

    async def close(self) -> None:
        self.closed = True


def runtime(client: schedo.AsyncClient, executor: Recorder, name: str) -> Runtime:
    return Runtime(
        client,
        executor,
        [PullScope((name,), job_type="command")],
        voice=Voice(logging.getLogger("tests.runtime"), name),
        worker_id="tests-runtime",
        poll_wait=2,
        shutdown_grace=5,
    )


async def wait_ended(c: schedo.AsyncClient, job_id: int) -> Execution:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs = await c.list_executions(job_id)
        if runs and runs[0].status in ("completed", "failed"):
            return runs[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not end")


async def test_the_executors_outcome_is_reported_with_its_exit_code(
    server: ServerProcess, name: str
) -> None:
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        job = await c.define_job(name, NEVER, command="true")
        now = int(time.time() * 1000)
        executor = Recorder(Outcome(False, "its output", "exit code 3", 3, now - 1500, now))
        rt = runtime(c, executor, name)
        task = asyncio.create_task(rt.run())
        run = await c.trigger_job(job.id)
        done = await wait_ended(c, job.id)
        rt.request_stop("test")
        assert await asyncio.wait_for(task, 20) == 0
    assert [e.id for e in executor.seen] == [run.id] and executor.closed
    assert done.id == run.id and done.status == "failed", done
    assert (done.output, done.error, done.exit_code) == ("its output", "exit code 3", 3)
    assert done.duration is not None and 1400 <= done.duration <= 1600


async def test_an_executor_that_raises_counts_as_a_result_lost(
    server: ServerProcess, name: str
) -> None:
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        job = await c.define_job(name, NEVER, command="true")
        executor = Recorder(None)
        rt = runtime(c, executor, name)
        task = asyncio.create_task(rt.run())
        run = await c.trigger_job(job.id)
        await asyncio.wait_for(executor.started.wait(), 20)
        rt.request_stop("test")
        assert await asyncio.wait_for(task, 20) == 1
    assert rt.lost_reports == [run.id]


async def test_a_second_stop_request_gives_up_on_the_runs_with_the_reason(
    server: ServerProcess, name: str
) -> None:
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        job = await c.define_job(name, NEVER, command="true")
        executor = Recorder(hang=True)
        rt = runtime(c, executor, name)
        task = asyncio.create_task(rt.run())
        await c.trigger_job(job.id)
        await asyncio.wait_for(executor.started.wait(), 20)
        rt.request_stop("first")
        await asyncio.sleep(0.2)
        assert not task.done()  # waiting for the run, within the grace
        rt.request_stop("second")
        assert await asyncio.wait_for(task, 20) == 0
        done = await wait_ended(c, job.id)
    assert done.status == "failed" and done.error is not None
    assert done.error.startswith("given up: interrupted by a second stop request (second) 0.")
