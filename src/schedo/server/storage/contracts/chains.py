"""Chains (issue 21; domain/chains.py): the store's promises about runs caused by upstream
ends, and the collector through which callers learn which runs an end created.

Every path that ends runs for good (a report, a push answer, an expiry, a ping) fires the
downstream jobs in the same transaction (``run_rows.after_end``): for each end that counts
(``chains.choose``) one run of the downstream job is created, source and trigger
``chain``, instant = when the last needed upstream run ended, and its causes are written
with the unique key (downstream job, upstream run). A second attempt (another server
process, a replayed report) finds the key taken and creates nothing.

Those runs are not returned by the ending call (its result is the ended run). A caller that
must wake pullers for them wraps the call in ``collect_chained()``: the list it yields holds
every run chains created in that task. Storage appends them inside the transaction, so the
list means something only once the call has returned (an exception: nothing committed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

from ...domain.records import Job, Run

_COLLECTED: ContextVar[list[Run] | None] = ContextVar("chained_runs", default=None)


@contextlib.contextmanager
def collect_chained() -> Iterator[list[Run]]:
    """The runs chains create inside the block (in this task), appended as they commit."""
    made: list[Run] = []
    token = _COLLECTED.set(made)
    try:
        yield made
    finally:
        _COLLECTED.reset(token)


def report_chained(runs: list[Run]) -> None:
    """Storage: runs a chain created (in the transaction that creates them)."""
    sink = _COLLECTED.get()
    if sink is not None and runs:
        sink.extend(runs)


@dataclass(frozen=True, slots=True)
class RunChain:
    """A run's causes (the upstream runs that made it, for a retry those of its first
    attempt) and effects (the downstream runs it caused), oldest first."""

    run: Run
    causes: list[Run] = field(default_factory=list)
    effects: list[Run] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class JobChain:
    """A job's place in the graph: the jobs it runs after (``missing``: names the
    environment no longer has) and the jobs that run after it."""

    job: Job
    upstream: list[Job] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    downstream: list[Job] = field(default_factory=list)


class ChainStore(Protocol):
    async def chain_graph(self, env_id: int) -> dict[str, list[str]]:
        """Every job of the environment that runs after others: name -> upstream names."""
        ...

    async def job_chain(self, env_id: int, job_id: int) -> JobChain:
        """NotFound for a job of another environment, as for a missing one."""
        ...

    async def run_chain(self, env_id: int, exec_id: int) -> RunChain:
        """NotFound for a run of another environment, as for a missing one."""
        ...
