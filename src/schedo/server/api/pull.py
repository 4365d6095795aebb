"""Worker pull routes (SPEC 2.3): long poll and server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from ...limits import PULL_JOBS_MAX_CHARS
from ..domain.errors import Unauthorized
from ..domain.model import PullKind
from ..services import pull
from . import shapes
from .deps import CanPull, Svc
from .encode import answer

router = APIRouter(tags=["workers"])


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone (for a GET, receive() blocks until then)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


@asynccontextmanager
async def _abort_when(*conditions: Awaitable[Any]) -> AsyncIterator[asyncio.Event]:
    """An event set as soon as any condition completes (client gone, server stopping)."""
    abort = asyncio.Event()
    tasks = [asyncio.ensure_future(c) for c in conditions]

    async def watch() -> None:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        abort.set()

    watcher = asyncio.create_task(watch())
    try:
        yield abort
    finally:
        for t in (*tasks, watcher):
            t.cancel()

# the codes of one pull must fit one request line (uvicorn refuses lines over ~64 KiB)
JOBS_MAX_CHARS = PULL_JOBS_MAX_CHARS
WorkerId = Annotated[str | None, Header(alias="x-schedo-worker-id", max_length=200)]
Kind = Annotated[str, Query(alias="type", description="sdk (workers) or command (agents)")]
AgentHost = Annotated[str | None, Header(alias="x-schedo-agent-host", max_length=253)]
AgentTags = Annotated[str | None, Header(alias="x-schedo-agent-tags", max_length=1000)]


def _worker(request: Request, p: Any, header: str | None) -> str:
    if header:
        return header
    client = request.client
    return f"key{p.key_id}@{client.host if client else '?'}"


@router.get("/jobs/executions", response_model=list[shapes.ExecutionOut])
async def long_poll(
    request: Request,
    svc: Svc,
    p: CanPull,
    jobs: Annotated[str | None, Query(max_length=JOBS_MAX_CHARS)] = None,
    wait: Annotated[float, Query(ge=0, le=pull.MAX_WAIT)] = 0,
    limit: Annotated[int, Query(ge=1, le=pull.MAX_LIMIT)] = 10,
    worker_id: WorkerId = None,
    kind: Kind = PullKind.SDK.value,
    agent_host: AgentHost = None,
    agent_tags: AgentTags = None,
) -> Response:
    types = pull.types_for(kind)
    codes = pull.parse_codes(jobs, optional=kind == PullKind.COMMAND)
    agent = pull.parse_agent(kind, agent_host, agent_tags)
    # Never claim for a client that went away or while the server stops: those runs would
    # reach nobody and sit until their deadline.
    async with _abort_when(_disconnected(request), svc.bus.stopping.wait()) as abort:
        got = await pull.long_poll(svc, p, codes, wait, limit, _worker(request, p, worker_id),
                                   types, abort, agent)
    return answer([shapes.execution(e) for e in got])  # encoded once (encode.py)


@router.get("/jobs/executions/sse", response_class=StreamingResponse)
async def sse(
    request: Request,
    svc: Svc,
    p: CanPull,
    jobs: Annotated[str | None, Query(max_length=JOBS_MAX_CHARS)] = None,
    limit: Annotated[int, Query(ge=1, le=pull.MAX_LIMIT)] = 10,
    worker_id: WorkerId = None,
    kind: Kind = PullKind.SDK.value,
    agent_host: AgentHost = None,
    agent_tags: AgentTags = None,
) -> StreamingResponse:
    """A text/event-stream: one ``data:`` event per claimed JobExecution, and a comment
    line at least every 15 s."""
    types = pull.types_for(kind)
    codes = pull.parse_codes(jobs, optional=kind == PullKind.COMMAND)
    agent = pull.parse_agent(kind, agent_host, agent_tags)
    worker = _worker(request, p, worker_id)

    async def events() -> AsyncIterator[bytes]:
        # Starlette cancels this generator when the client disconnects; the server stopping
        # ends it cleanly.
        yield b": connected\n\n"
        async with _abort_when(svc.bus.stopping.wait()) as abort:
            runs = pull.stream(svc, p, codes, limit, worker, types=types, abort=abort,
                               agent=agent)
            try:
                async with contextlib.aclosing(runs):  # its cleanup runs when we stop
                    async for e in runs:
                        if e is None:
                            yield b": keepalive\n\n"
                        else:
                            data = json.dumps(shapes.execution(e), separators=(",", ":"))
                            yield f"id: {e.id}\ndata: {data}\n\n".encode()
            except Unauthorized as exc:
                # the key was revoked or the environment deleted: say so, then end
                data = json.dumps({"message": str(exc), "status": 401})
                yield f"event: error\ndata: {data}\n\n".encode()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
