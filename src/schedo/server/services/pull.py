"""Worker pulls: long poll and stream, both built on one atomic claim.

A waiting puller sleeps on ``bus.runs_ready`` (woken the moment the ticker, a trigger or a
retry creates a run), or until the earliest future due time of a pending run it could take
(retries wait out their backoff), or until its own deadline. There is no polling interval.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Coroutine
from typing import Any

from ...limits import PULL_MAX_CODES, PULL_MAX_RUNS
from ..domain.errors import InvalidInput
from ..domain.model import JobType, PullKind
from ..domain.records import Run
from ..domain.targets import AgentMatch, agent_match
from ..runtime.bus import Watch
from . import validation
from .access import AccessCheck
from .context import Principal, Services

MAX_WAIT = 30.0
MAX_LIMIT = PULL_MAX_RUNS
MAX_CODES = PULL_MAX_CODES  # one worker process may serve thousands of jobs
SDK_TYPES = (JobType.SDK.value,)
COMMAND_TYPES = (JobType.COMMAND.value,)


def types_for(kind: str) -> tuple[str, ...]:
    """Workers pull sdk runs; ``schedo agent`` pulls command runs (extension ``type=command``)."""
    if kind == PullKind.SDK:
        return SDK_TYPES
    if kind == PullKind.COMMAND:
        return COMMAND_TYPES
    raise InvalidInput("type: must be sdk or command")


def parse_agent(kind: str, host: str | None, tags: str | None) -> AgentMatch | None:
    """What an agent announced (``x-schedo-agent-host``, ``x-schedo-agent-tags: a,b``);
    None for workers (sdk pulls) and agents that announced nothing."""
    if kind != PullKind.COMMAND or (not host and not tags):
        return None
    return agent_match(host, [t for t in (tags or "").split(",") if t.strip()])


def parse_codes(raw: str | None, *, optional: bool = False) -> list[str] | None:
    """The job codes of ``jobs=a,b``; None (every code) only where ``optional``."""
    if raw is None or not raw.strip():
        if optional:
            return None
        raise InvalidInput("jobs: name at least one job code (jobs=a,b)")
    return list(_parsed_codes(raw))


@functools.lru_cache(maxsize=32)  # a pull line is at most ~64 KiB
def _parsed_codes(raw: str) -> tuple[str, ...]:
    """``parse_codes`` of a non-empty list, remembered: a worker names the same thousands of
    codes in every pull (their validation cost ~3 % of a herd's server CPU). Refused lists
    raise each time (exceptions are not cached)."""
    codes = [c.strip() for c in raw.split(",") if c.strip()]
    if len(codes) > MAX_CODES:
        raise InvalidInput(f"jobs: at most {MAX_CODES} job codes")
    for c in codes:
        validation.job_name(c, field="jobs")
    return tuple(sorted(set(codes)))


async def _seen(svc: Services, p: Principal, codes: list[str] | None, worker: str,
                agent: AgentMatch | None = None) -> None:
    """Keep the puller's connection (and an agent's host and tags: target mode "all") fresh."""
    if codes or agent is not None:
        await svc.connections.seen(p.env_id, codes or [], worker, svc.clock.now(), agent)


async def _wait_for_runs(
    svc: Services,
    p: Principal,
    codes: list[str] | None,
    types: tuple[str, ...],
    watch: Watch,
    limit_seconds: float,
    abort: asyncio.Event | None = None,
    agent: AgentMatch | None = None,
) -> None:
    timeout = limit_seconds
    nxt = await svc.store.earliest_pending_due(p.env_id, codes, types, agent)
    if nxt is not None:
        timeout = min(timeout, max(0.0, (nxt - svc.clock.now()).total_seconds()))
    if timeout > 0:
        await watch.wait(timeout, abort)


async def long_poll(
    svc: Services,
    p: Principal,
    codes: list[str] | None,
    wait: float,
    limit: int,
    worker: str,
    types: tuple[str, ...] = SDK_TYPES,
    abort: asyncio.Event | None = None,
    agent: AgentMatch | None = None,
) -> list[Run]:
    """Claim what is due, or wait for it up to ``wait`` seconds. ``abort`` (the client went
    away, or the server is shutting down) ends the wait with ``[]`` and nothing claimed.
    Only runs of its own job codes wake the waiter (``bus.Watch``): a tick for other jobs
    does not make thousands of idle pollers query the database."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, min(wait, MAX_WAIT))
    access = AccessCheck(svc, p)
    with svc.bus.runs_ready.watch(p.env_id, codes) as watch:
        while True:
            if abort is not None and abort.is_set():
                return []
            watch.event.clear()  # from here on, a new run of these codes wakes the wait
            await access.check()
            await _seen(svc, p, codes, worker, agent)
            got = await svc.store.claim(p.env_id, codes, types, svc.clock.now(), limit,
                                        p.key_id, worker, agent)
            remaining = deadline - loop.time()
            if got or remaining <= 0:
                svc.bus.deadlines_added(e.run_deadline for e in got)
                return got
            await _wait_for_runs(svc, p, codes, types, watch, remaining, abort, agent)


async def stream(
    svc: Services,
    p: Principal,
    codes: list[str] | None,
    limit: int,
    worker: str,
    keepalive: float = 15.0,
    types: tuple[str, ...] = SDK_TYPES,
    abort: asyncio.Event | None = None,
    agent: AgentMatch | None = None,
) -> AsyncGenerator[Run | None, None]:
    """Yield claimed executions as they become due, and None at least every ``keepalive``
    seconds (the caller sends a comment line). Ends when ``abort`` is set; raises
    ``Unauthorized`` when the key is revoked or the environment deleted meanwhile."""
    loop = asyncio.get_running_loop()
    access = AccessCheck(svc, p, fresh=True)  # once per stream: cheap
    unsent: list[Run] = []  # claimed, not yet handed to the caller
    try:
        with svc.bus.runs_ready.watch(p.env_id, codes) as watch:
            last_sent = loop.time()
            while abort is None or not abort.is_set():
                await access.check()
                await _seen(svc, p, codes, worker, agent)
                watch.event.clear()
                got = await _claim_or_release(svc.store.claim(
                    p.env_id, codes, types, svc.clock.now(), limit, p.key_id, worker, agent
                ), svc, p.env_id)
                if got:
                    svc.bus.deadlines_added(e.run_deadline for e in got)
                    unsent = list(got)
                    while unsent:
                        # handed over counts as sent (it may reach the client even if the
                        # stream breaks now): only runs never handed over are released, so
                        # no run can reach two workers
                        yield unsent.pop(0)
                    last_sent = loop.time()
                    continue
                since = loop.time() - last_sent
                if since >= keepalive:
                    yield None
                    last_sent = loop.time()
                    continue
                # wake at least every 10 s so the connection row stays fresh
                await _wait_for_runs(svc, p, codes, types, watch, min(10.0, keepalive - since),
                                     abort, agent)
    finally:
        if unsent:  # the client went away mid-batch: the rest goes back to the pool
            _background(release(svc, p.env_id, [e.id for e in unsent]))
        if codes:
            await svc.connections.closed(p.env_id, codes, worker)


_tasks: set[asyncio.Task[None]] = set()


async def _claim_or_release(claim: Coroutine[Any, Any, list[Run]], svc: Services,
                            env_id: int) -> list[Run]:
    """The claim, run to its end even if the stream is cancelled meanwhile (its client went
    away: Starlette cancels the stream): then whatever it claimed goes back to the pool
    instead of waiting, running for no one, for its deadline."""
    task = asyncio.ensure_future(claim)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        _background(_release_claimed(svc, env_id, task))
        raise


async def _release_claimed(svc: Services, env_id: int, claim: asyncio.Future[list[Run]]) -> None:
    try:
        got = await claim
    except Exception:  # the claim failed: nothing was claimed
        return
    if got:
        await release(svc, env_id, [e.id for e in got])


def _background(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end even though the caller is being cancelled."""
    task = asyncio.ensure_future(work)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def release(svc: Services, env_id: int, ids: list[int]) -> None:
    """Put claimed runs that reached no one back to pending, and wake the pullers."""
    back = await svc.store.release(env_id, ids, svc.clock.now())
    if back:
        svc.bus.runs_ready.notify({env_id: {e.job_code for e in back}})
        svc.bus.deadlines_changed.notify()
