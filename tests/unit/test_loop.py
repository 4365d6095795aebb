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


async def test_a_repeated_error_is_logged_once_with_its_traceback_then_counted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import schedo.server.runtime.loop as loop_module

    calls: list[int] = []

    async def step() -> float | None:
        calls.append(1)
        if len(calls) <= 6:
            raise ConnectionResetError("the database went away")
        if len(calls) == 7:
            raise ValueError("another error")
        return 600.0

    monkeypatch.setattr(loop_module, "REPEAT_LOG_EVERY", 0.0)  # every repeat gets its line
    caplog.set_level(logging.INFO, logger="tests.loop")
    task = asyncio.create_task(run_loop(step, None, max_idle=60, name="t.error", log=log,
                                        retry_after=0.001))
    try:
        await _until(lambda: len(calls) >= 8)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    records = [r for r in caplog.records if r.name == "tests.loop"]
    with_traceback = [r for r in records if r.exc_info]
    # one traceback per distinct error, not one per failure
    assert [r.exc_info[1].__class__ for r in with_traceback if r.exc_info] == [
        ConnectionResetError, ValueError]
    repeats = [r.getMessage() for r in records if "the same error again" in r.getMessage()]
    assert len(repeats) == 5 and all("1 times" in m for m in repeats), repeats
    assert "ConnectionResetError: the database went away" in repeats[0]
    assert any("working again after 7 failed attempts" in r.getMessage() for r in records)


def test_console_tracebacks_are_plain_text_without_locals() -> None:
    from schedo.server.observability import logs

    secret = "sk_local_value_never_logged"  # noqa: F841 (a local of the failing frame)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None,
                                   exc_info=__import__("sys").exc_info())
    text = logs.formatter("console").format(record)
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom" in text
    assert "╭" not in text  # not rich's boxed, highlighted rendering
    assert "sk_local_value_never_logged" not in text  # no frame's locals
