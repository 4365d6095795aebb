"""Running one handler: sync handlers in a thread, async ones as tasks, a local timeout, and
the run's outcome (output / error) as the report expects it.

Sync handlers run in their own daemon thread (not a ThreadPoolExecutor): a handler that
overruns its timeout cannot be killed, and the executor's non-daemon threads would keep the
process from exiting after a graceful shutdown. Concurrency is already bounded by the
worker's slots, so one thread per running sync handler is the same bound.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
import threading
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from ..limits import ERROR_MAX_BYTES as ERROR_MAX_BYTES  # re-exported: the worker's fallbacks
from ..limits import OUTPUT_MAX_BYTES as OUTPUT_MAX_BYTES
from .calls import clean_text
from .executor import Abort, Outcome
from .executor import format_seconds as format_seconds  # re-exported

log = logging.getLogger("schedo.worker")

TRACEBACK_TAIL = 4 * 1024


class HandlerTimeout(Exception):
    """The handler overran its local timeout."""


class Aborted(Exception):
    """The worker gave up waiting for the handler (shutdown grace expired)."""


def is_async_callable(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def takes_context(fn: Callable[..., Any]) -> bool:
    """False for a handler written without parameters (``def handler():``)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            return True
    return False


def _cap_head(text: str, limit: int) -> str:
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[: limit - 32].decode("utf-8", "ignore") + "\n… [truncated by the worker]"


def _cap_tail(text: str, limit: int) -> str:
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return "… " + data[-limit:].decode("utf-8", "ignore")


def format_output(value: Any) -> str | None:
    """``str`` as is, None as no output, anything else as JSON (``default=str``, non-ASCII
    characters as themselves); lone surrogates (``surrogateescape``-decoded text) become
    U+FFFD (``clean_text``)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)  # é, not \u00e9
        except (TypeError, ValueError):  # e.g. a circular structure
            text = repr(value)
    return _cap_head(clean_text(text), OUTPUT_MAX_BYTES)


def describe_exception(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not cost the report
        message = "<exception str() failed>"
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def failure(exc: BaseException) -> Outcome:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Outcome(
        success=False,
        output=_cap_tail(clean_text(tb), TRACEBACK_TAIL),
        error=_cap_head(clean_text(describe_exception(exc)), ERROR_MAX_BYTES),
    )


def _in_thread(fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> asyncio.Future[Any]:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()
    ctx = contextvars.copy_context()

    def settle(result: Any, exc: BaseException | None) -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    def target() -> None:
        try:
            result = ctx.run(fn, *args)
        except BaseException as exc:  # the handler's failure, reported as such
            outcome: tuple[Any, BaseException | None] = (None, exc)
        else:
            outcome = (result, None)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop closed while the handler overran: nobody waits
            pass

    threading.Thread(target=target, name=name, daemon=True).start()
    return fut


async def run_handler(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    is_async: bool,
    seconds: float,
    abort: Abort,
    thread_name: str,
) -> Any:
    """Run ``fn(*args)`` and return its value. Raises ``HandlerTimeout`` past ``seconds``,
    ``Aborted`` when ``abort`` is set first, or whatever the handler raised."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    work: asyncio.Future[Any]
    if is_async:
        work = asyncio.ensure_future(fn(*args))
    else:
        work = _in_thread(fn, args, thread_name)
    result = await _wait(work, deadline, abort, is_async, thread_name)
    if inspect.isawaitable(result):  # a plain function that returned a coroutine
        result = await _wait(asyncio.ensure_future(result), deadline, abort, True, thread_name)
    return result


async def _first_of(work: asyncio.Future[Any], deadline: float, abort: Abort) -> None:
    """Until ``work`` is done, ``deadline`` (loop time) passes or ``abort`` is set: one future
    woken by callbacks (no task per run waiting on the abort, no ``asyncio.wait``)."""
    if work.done() or abort.is_set():
        return
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()

    def wake(*_: object) -> None:
        if not woken.done():
            woken.set_result(None)

    work.add_done_callback(wake)
    timer = loop.call_at(deadline, wake)
    take_back = abort.on_set(wake)
    try:
        await woken
    finally:
        timer.cancel()
        work.remove_done_callback(wake)
        take_back()


async def _wait(
    work: asyncio.Future[Any],
    deadline: float,
    abort: Abort,
    cancellable: bool,
    thread_name: str,
) -> Any:
    try:
        await _first_of(work, deadline, abort)
    except asyncio.CancelledError:
        work.cancel()
        raise
    if work.done():
        return work.result()
    reason: Exception = Aborted() if abort.is_set() else HandlerTimeout()
    if cancellable:
        work.cancel()
        await _settle(work, 5.0)
    else:
        work.cancel()  # only detaches: the thread cannot be stopped
        log.warning(
            "handler thread %s is still running after its run was given up; "
            "it is left to finish on its own",
            thread_name,
        )
    raise reason


async def _settle(work: Awaitable[Any], seconds: float) -> None:
    """Give a cancelled handler a moment to unwind; do not wait for one that ignores it."""
    try:
        await asyncio.wait_for(asyncio.shield(work), seconds)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # we are being cancelled ourselves
    except Exception:  # the outcome is already decided
        pass
