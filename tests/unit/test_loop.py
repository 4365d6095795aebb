"""``runtime.loop.run_loop``: the one wake-or-timeout loop of the ticker, the reaper, the push
dispatcher, the notifier and retention."""

from __future__ import annotations

import asyncio
import logging

import pytest

from schedo.server.runtime.bus import Signal
from schedo.server.runtime.loop import run_loop

log = logging.getLogger("tests.loop")


async def _until(condition: object, seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_a_signal_wakes_the_loop_before_its_timeout() -> None:
    wake, calls = Signal("test"), []

    async def step() -> float | None:
        calls.append(1)
        return None  # nothing scheduled: sleep max_idle

    task = asyncio.create_task(run_loop(step, wake, max_idle=60, name="t.error", log=log))
    try:
        await _until(lambda: len(calls) == 1)
        await asyncio.sleep(0.05)
        assert len(calls) == 1  # asleep
        wake.notify()
        await _until(lambda: len(calls) == 2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_signal_during_the_step_is_not_lost() -> None:
    wake, calls = Signal("test"), []

    async def step() -> float | None:
        calls.append(1)
        if len(calls) == 1:
            wake.notify()  # arrives while the step runs: the loop must not sleep through it
        return 60.0

    task = asyncio.create_task(run_loop(step, wake, max_idle=60, name="t.error", log=log))
    try:
        await _until(lambda: len(calls) >= 2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_the_step_says_when_to_run_again_capped_by_max_idle() -> None:
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def step() -> float | None:
        calls.append(loop.time())
        return 0.05 if len(calls) < 3 else 600.0

    task = asyncio.create_task(run_loop(step, None, max_idle=0.1, name="t.error", log=log))
    try:
        await _until(lambda: len(calls) >= 5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert calls[1] - calls[0] >= 0.04
    assert calls[4] - calls[3] < 1.0  # 600 s capped at max_idle


async def test_an_error_is_logged_under_its_name_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = []

    async def step() -> float | None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return None

    with caplog.at_level(logging.ERROR, logger="tests.loop"):
        task = asyncio.create_task(
            run_loop(step, Signal("t"), max_idle=60, name="t.error", log=log, retry_after=0.01)
        )
        try:
            await _until(lambda: len(calls) == 2)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert [r.getMessage() for r in caplog.records] == ["t.error"]
    assert caplog.records[0].exc_info is not None
