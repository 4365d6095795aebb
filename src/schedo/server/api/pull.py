"""Worker pull routes (SPEC 2.3): long poll and server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from ..services import pull
from . import shapes
from .deps import Auth, Svc

router = APIRouter(tags=["workers"])

WorkerId = Annotated[str | None, Header(alias="x-schedo-worker-id", max_length=200)]
Kind = Annotated[str, Query(alias="type", description="sdk (workers) or command (agents)")]


def _worker(request: Request, p: Any, header: str | None) -> str:
    if header:
        return header
    client = request.client
    return f"key{p.key_id}@{client.host if client else '?'}"


@router.get("/jobs/executions", response_model=list[shapes.ExecutionOut])
async def long_poll(
    request: Request,
    svc: Svc,
    p: Auth,
    jobs: Annotated[str | None, Query(max_length=100_000)] = None,
    wait: Annotated[float, Query(ge=0, le=pull.MAX_WAIT)] = 0,
    limit: Annotated[int, Query(ge=1, le=pull.MAX_LIMIT)] = 10,
    worker_id: WorkerId = None,
    kind: Kind = "sdk",
) -> list[dict[str, Any]]:
    types = pull.types_for(kind)
    codes = pull.parse_codes(jobs, optional=kind == "command")
    got = await pull.long_poll(svc, p, codes, wait, limit, _worker(request, p, worker_id),
                               types)
    return [shapes.execution(e) for e in got]


@router.get("/jobs/executions/sse", response_class=StreamingResponse)
async def sse(
    request: Request,
    svc: Svc,
    p: Auth,
    jobs: Annotated[str | None, Query(max_length=100_000)] = None,
    limit: Annotated[int, Query(ge=1, le=pull.MAX_LIMIT)] = 10,
    worker_id: WorkerId = None,
    kind: Kind = "sdk",
) -> StreamingResponse:
    """A text/event-stream: one ``data:`` event per claimed JobExecution, and a comment
    line at least every 15 s."""
    types = pull.types_for(kind)
    codes = pull.parse_codes(jobs, optional=kind == "command")
    worker = _worker(request, p, worker_id)

    async def events() -> AsyncIterator[bytes]:
        yield b": connected\n\n"
        async for e in pull.stream(svc, p, codes, limit, worker, types=types):
            if e is None:
                yield b": keepalive\n\n"
            else:
                data = json.dumps(shapes.execution(e), separators=(",", ":"))
                yield f"id: {e.id}\ndata: {data}\n\n".encode()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
