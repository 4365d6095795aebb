"""Ping routes of heartbeat jobs, compatible with the healthchecks.io ping API (issue 19;
rules in ``domain/pings.py``). No API key: the uuid, or the environment's ping key with the
job's name, is the secret.

``GET|POST|HEAD``: ``/ping/<uuid>`` (success), ``/ping/<uuid>/start``, ``/ping/<uuid>/fail``,
``/ping/<uuid>/<exit status 0-255>``, ``/ping/<uuid>/log``; the same after
``/ping/<ping-key>/<job name>``. ``?rid=<uuid>`` ties a start to its finish. A POST body is
kept as the run's output (the first 10 KiB). Answers ``200 OK`` (text); an unknown or
foreign uuid, key, name or action ``404`` (all alike); a bad ``rid`` 400.

Limits (``api/limits.py``'s limiter): a 404 counts as a failed authentication of the client
address (guessing is slowed exactly like guessing API keys), and each job has a token
bucket of its own (the per-key rate).
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from ..domain.errors import InvalidInput, NotFound
from ..domain.pings import body_text
from ..services import pings
from .deps import Svc
from .limits import Limiter, too_many

# Outside the OpenAPI document: not a JSON API (plain-text answers, no key), and its
# isolation is pinned by tests/engine/test_pings.py rather than tests/api/test_isolation.py.
router = APIRouter(tags=["pings"])
METHODS = ["GET", "POST", "HEAD"]


async def _ping(request: Request, svc: Svc, first: str, name: str | None,
                segment: str | None) -> PlainTextResponse:
    limiter: Limiter = request.app.state.limiter
    address = limiter.address(request.scope)
    wait = limiter.blocked(address)
    if wait > 0:
        raise too_many("too many unknown ping URLs from this address", wait)
    try:
        ping = pings.action(segment)
        job = await pings.find(svc, first, name)
    except NotFound:
        limiter.failed(address)
        raise
    wait = limiter.keys.take(("ping", job.id)) if limiter.keys is not None else 0.0
    if wait > 0:
        raise too_many("rate limit of this ping URL exceeded", wait)
    rid = request.query_params.get("rid")
    if rid is not None:
        if not pings.is_uuid(rid):
            raise InvalidInput("rid: must be a UUID")
        rid = pings.canonical_uuid(rid)
    body = body_text(await request.body()) if request.method == "POST" else None
    await pings.record(svc, job, replace(ping, rid=rid, body=body))
    return PlainTextResponse("OK")


@router.api_route("/ping/{first}", methods=METHODS, include_in_schema=False)
async def ping_one(first: str, request: Request, svc: Svc) -> PlainTextResponse:
    return await _ping(request, svc, first, None, None)


@router.api_route("/ping/{first}/{second}", methods=METHODS, include_in_schema=False)
async def ping_two(first: str, second: str, request: Request, svc: Svc) -> PlainTextResponse:
    if pings.is_uuid(first):
        return await _ping(request, svc, first, None, second)
    return await _ping(request, svc, first, second, None)


@router.api_route("/ping/{first}/{second}/{third}", methods=METHODS,
                  include_in_schema=False)
async def ping_three(first: str, second: str, third: str, request: Request,
                     svc: Svc) -> PlainTextResponse:
    if pings.is_uuid(first):
        raise NotFound(pings.NOT_FOUND)
    return await _ping(request, svc, first, second, third)
