"""Worker pull routes (SPEC 2.3): long poll and server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

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


class _Abort(asyncio.Event):
    """Set as soon as any of ``conditions`` completes (client gone, server stopping). They are
    watched from the first wait on the event: a pull that claims at once, the common case,
    starts no task (four tasks and an ``asyncio.wait`` were ~7 % of a pull's CPU, issue 18).
    Before that first wait nothing can have set it anyway: the watching tasks would not have
    run yet."""

    def __init__(self, conditions: tuple[Callable[[], Awaitable[Any]], ...]) -> None:
        super().__init__()
        self._conditions = conditions
        self._tasks: list[asyncio.Future[Any]] = []

    async def wait(self) -> Literal[True]:
        if self._conditions:
            self._watch()
        return await super().wait()

    def _watch(self) -> None:
        tasks = [asyncio.ensure_future(c()) for c in self._conditions]
        self._conditions = ()

        async def watch() -> None:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            self.set()

        self._tasks = [*tasks, asyncio.ensure_future(watch())]

    def close(self) -> None:
        self._conditions = ()
        for t in self._tasks:
            t.cancel()


@contextmanager
def _abort_when(*conditions: Callable[[], Awaitable[Any]]) -> Iterator[asyncio.Event]:
    """An event set as soon as any condition (a function of no argument returning an
    awaitable) completes, from the first wait on it."""
    abort = _Abort(conditions)
    try:
        yield abort
    finally:
        abort.close()


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
    with _abort_when(lambda: _disconnected(request), svc.bus.stopping.wait) as abort:
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
        with _abort_when(svc.bus.stopping.wait) as abort:
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
