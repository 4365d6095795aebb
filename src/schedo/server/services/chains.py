"""Chain use cases (issue 21; domain/chains.py): check a definition's ``after`` against the
environment's graph, read a job's or a run's chain, and wake the pullers of the runs an end
caused (``woken``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ..domain import chains
from ..domain.errors import InvalidInput
from ..domain.model import JobType, RunStatus
from ..storage.contracts import JobChain, RunChain, collect_chained
from .context import Principal, Services


async def checked_after(svc: Services, p: Principal, name: str, kind: JobType,
                        value: Any) -> dict[str, Any] | None:
    """A definition's ``after``, checked (shape, upstream jobs exist, no cycle), in its
    stored form; None: no chain. InvalidInput (400) names the field and, for a cycle, the
    loop; nothing is stored on refusal (the caller stores after this)."""
    after = chains.parse_after(value, name)
    if after is None:
        return None
    if kind is JobType.HEARTBEAT:
        raise InvalidInput("after: a heartbeat job runs on pings; it cannot run after jobs")
    graph = await svc.store.chain_graph(p.env_id)
    known = {n for n in after.jobs
             if await svc.store.get_job_by_name(p.env_id, n) is not None}
    graph.pop(name, None)
    chains.check_graph(name, after, known, graph)
    return after.as_json()


async def job_chain(svc: Services, p: Principal, job_id: int) -> JobChain:
    return await svc.store.job_chain(p.env_id, job_id)


async def run_chain(svc: Services, p: Principal, exec_id: int) -> RunChain:
    return await svc.store.run_chain(p.env_id, exec_id)


@contextlib.contextmanager
def woken(svc: Services) -> Iterator[None]:
    """Around a store call that ends runs: once it returned, the pullers of the downstream
    runs it created are woken (and the reaper, for their deadlines)."""
    with collect_chained() as made:
        yield
    pending = [e for e in made if e.status is RunStatus.PENDING]
    if pending:
        topics: dict[int, set[str]] = {}
        for e in pending:
            topics.setdefault(e.environment_id, set()).add(e.job_code)
        svc.bus.runs_ready.notify(topics)
        svc.bus.deadlines_changed.notify()
