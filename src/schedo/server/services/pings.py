"""Heartbeat pings (issue 19): find the job a ping URL names and apply the ping
(``PingStore``, rules in ``domain/pings.py``). No API key: the uuid (or the environment's
ping key) is the secret, so an unknown one and one of another type answer alike
(NotFound), and nothing tells one tenant's job from another's."""

from __future__ import annotations

import uuid as uuidlib
from urllib.parse import quote

from ..domain.errors import NotFound
from ..domain.model import JobType
from ..domain.pings import Ping, parse_action
from ..domain.records import Job, Run
from ..domain.text import text_problem
from .chains import woken
from .context import Services

NOT_FOUND = "not found"


def is_uuid(text: str) -> bool:
    try:
        uuidlib.UUID(text)
    except ValueError:
        return False
    return True


def canonical_uuid(text: str) -> str:
    return str(uuidlib.UUID(text))


async def find(svc: Services, first: str, name: str | None) -> Job:
    """The heartbeat job of ``/ping/<uuid>`` (``name`` None) or ``/ping/<key>/<name>``."""
    job = None
    if text_problem(first) is not None or (name is not None and text_problem(name)):
        raise NotFound(NOT_FOUND)  # a NUL or a lone surrogate names no job (never a lookup)
    if name is None and is_uuid(first):
        job = await svc.store.find_ping_job(uuid=canonical_uuid(first))
    elif name is not None and not is_uuid(first):
        job = await svc.store.find_ping_job(ping_key=first, name=name)
    if job is None:
        raise NotFound(NOT_FOUND)
    return job


def action(segment: str | None) -> Ping:
    ping = parse_action(segment)
    if ping is None:
        raise NotFound(NOT_FOUND)
    return ping


async def record(svc: Services, job: Job, ping: Ping) -> Run | None:
    with woken(svc):  # a ping that ends a run may fire the jobs chained after it
        run = await svc.store.record_ping(job.environment_id, job.id, ping, svc.clock.now())
    svc.bus.deadlines_changed.notify()  # a new deadline, or a notice for the notifier
    return run


async def ping_urls(svc: Services, job: Job) -> dict[str, str] | None:
    """The ping URLs of a heartbeat job (None for other types)."""
    if job.ping_uuid is None or job.type is not JobType.HEARTBEAT:
        return None
    base = svc.settings.public_url.rstrip("/")
    out = {"url": f"{base}/ping/{job.ping_uuid}"}
    key = await svc.store.ping_key(job.environment_id)
    if key is not None and "/" not in job.name:
        out["slug_url"] = f"{base}/ping/{key}/{quote(job.name, safe='')}"
    return out
