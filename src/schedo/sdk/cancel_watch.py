"""The worker runtime's watch for cancelled runs (issue 21).

While the runtime has runs going, one long poll (``POST /jobs/executions/cancelled``, up to
``WAIT`` seconds) asks the server which of them were cancelled; the server answers at once
when one is, or is woken by the cancellation. Each cancelled run's ``Abort`` is cancelled
(``executor.Abort.cancel``): a handler sees ``ctx.cancelled`` (an async one is cancelled), an
agent ends the command's process group; nothing is reported, the server has ended the run.

When the set of running runs grows, the poll is asked again with the new run (at most once
per ``RESTART_EVERY`` seconds). Connection errors and 5xx back off like the pulls. A server
without the route (404/405: the hosted API, an older Schedo) ends the watch for good: runs
are then simply not cancellable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from ..limits import CANCEL_WATCH_MAX_IDS
from .async_client import AsyncClient
from .backoff import reconnect_backoff, retry_delay
from .errors import ApiError
from .executor import Abort
from .voice import Voice

WAIT = 25.0
RESTART_EVERY = 1.0
MAX_IDS = CANCEL_WATCH_MAX_IDS  # the server's limit per request


class CancelWatch:
    def __init__(self, client: AsyncClient, voice: Voice, aborts: Mapping[int, Abort]) -> None:
        self.client = client
        self.voice = voice
        self.aborts = aborts  # the runtime's running runs (id -> their Abort)
        self.wait = WAIT
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="schedo-cancel-watch")

    def changed(self) -> None:
        """A run started: the next poll should include it."""
        self._changed.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    def _watched(self) -> list[int]:
        return sorted(i for i, a in self.aborts.items() if not a.is_set())[:MAX_IDS]

    async def _loop(self) -> None:
        backoff = reconnect_backoff()
        loop = asyncio.get_running_loop()
        while True:
            ids = self._watched()
            self._changed.clear()
            if not ids:
                await self._changed.wait()
                continue
            began = loop.time()
            call = asyncio.ensure_future(self.client.watch_cancelled(ids, wait=self.wait))
            try:
                while not call.done():
                    changed = asyncio.ensure_future(self._changed.wait())
                    try:
                        await asyncio.wait({call, changed}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        changed.cancel()
                    if call.done() or set(self._watched()) <= set(ids):
                        self._changed.clear()
                        continue
                    # a new run: ask again with it, after a short pause batching starts
                    await asyncio.wait({call}, timeout=max(0.0, began + RESTART_EVERY
                                                           - loop.time()))
                    if not call.done():
                        call.cancel()
                        break
            finally:
                if not call.done():
                    call.cancel()
            if call.cancelled():
                continue
            try:
                got = call.result()
            except ApiError as exc:
                if exc.status in (404, 405):
                    self.voice.log.info("the server cannot cancel runs (%s): not watching", exc)
                    return
                await asyncio.sleep(retry_delay(exc, backoff))
                continue
            except Exception as exc:
                await asyncio.sleep(retry_delay(exc, backoff))
                continue
            backoff.reset()
            for run_id in got:
                abort = self.aborts.get(run_id)
                if abort is not None and not abort.is_set():
                    self.voice.log.info("run %d was cancelled on the server: stopping it", run_id)
                    abort.cancel("the run was cancelled")
