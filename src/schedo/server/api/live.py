"""Routes for runs while they run (issue 21; extension): cancel a run, the worker's watch
for cancelled runs, and the run's live output (ingest, read, follow as server-sent events)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ..domain.errors import NotFound, Unauthorized
from ..services import live
from . import shapes
from .deps import CanOperate, CanView, CanWatchCancel, CanWriteLog, Id, Svc
from .models import CancelIn, LogIn, WatchIn
from .pull import _abort_when, _disconnected

router = APIRouter(tags=["executions"])


@router.post("/jobs/executions/{exec_id}/cancel", response_model=shapes.ExecutionOut)
async def cancel(
    exec_id: Id, svc: Svc, p: CanOperate, body: CancelIn | None = None
) -> dict[str, Any]:
    """End a pending or running run as ``cancelled`` (no retry, no alert); its worker or
    agent is told and stops it. 409 when the run already ended."""
    run = await live.cancel(svc, p, exec_id, body.reason if body else None)
    return shapes.execution(run)


@router.post("/jobs/executions/cancelled", response_model=shapes.CancelledOut)
async def watch(
    request: Request, body: WatchIn, svc: Svc, p: CanWatchCancel,
    wait: Annotated[float, Query(ge=0, le=live.MAX_WAIT)] = 0,
) -> dict[str, Any]:
    """A worker's long poll: which of ``ids`` (the runs it holds) are cancelled; waits up to
    ``wait`` seconds (max 30) for one."""
    with _abort_when(lambda: _disconnected(request), svc.bus.stopping.wait) as abort:
        got = await live.watch_cancelled(svc, p, body.ids, wait, abort)
    return {"cancelled": got}


@router.post("/jobs/executions/{exec_id}/log", response_model=shapes.AppendedOut)
async def append(exec_id: Id, body: LogIn, svc: Svc, p: CanWriteLog) -> dict[str, Any]:
    """Lines of a run's live output (at most 1,000 per request: more is 413)."""
    got = await live.append(svc, p, exec_id, [(x.at, x.stream, x.text) for x in body.lines])
    return {"kept": got.kept, "dropped": got.dropped, "live": got.live}


def _page(run: Any, lines: list[Any], after: int) -> dict[str, Any]:
    return {"execution": shapes.execution(run), "lines": [shapes.log_line(x) for x in lines],
            "next_after": lines[-1].id if lines else after}


@router.get("/jobs/executions/{exec_id}/log", response_model=shapes.LogOut, responses={
    200: {"content": {"text/event-stream": {}},
          "description": "JSON, or with follow=1 a text/event-stream"}})
async def read(
    exec_id: Id, svc: Svc, p: CanView,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=live.READ_MAX)] = live.READ_MAX,
    follow: Annotated[bool, Query()] = False,
) -> Any:
    """The run's output lines after ``after`` (a line id), oldest first. With ``follow=1``:
    a text/event-stream of ``line`` events (one line each, ``id:`` its id) as they come,
    a comment every 15 s, and one ``end`` event (the ended run) when the run has ended; an
    ``error`` event (``status`` 401 or 404) ends it when the key is revoked, the environment
    or the run deleted meanwhile."""
    if not follow:
        run, lines = await live.read(svc, p, exec_id, after, limit)
        return _page(run, lines, after)
    await live.read(svc, p, exec_id, 0, 1)  # 404 before the stream starts

    async def events() -> AsyncIterator[bytes]:
        yield b": connected\n\n"
        with _abort_when(svc.bus.stopping.wait) as abort:
            stream = live.follow(svc, p, exec_id, after, abort=abort)
            last = None
            try:
                async with contextlib.aclosing(stream):
                    async for run, lines in stream:
                        last = run
                        if not lines:
                            yield b": keepalive\n\n"
                        for x in lines:
                            data = json.dumps(shapes.log_line(x), separators=(",", ":"))
                            yield f"id: {x.id}\nevent: line\ndata: {data}\n\n".encode()
            except (Unauthorized, NotFound) as exc:
                # the key was revoked, the environment deleted (401) or the run deleted with
                # its job (404) meanwhile: say so, then end (as the pull stream does)
                status = 401 if isinstance(exc, Unauthorized) else 404
                data = json.dumps({"message": str(exc), "status": status})
                yield f"event: error\ndata: {data}\n\n".encode()
                return
            if last is not None and last.status.terminal:
                data = json.dumps(shapes.execution(last), separators=(",", ":"))
                yield f"event: end\ndata: {data}\n\n".encode()

    return StreamingResponse(
        events(), media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )

