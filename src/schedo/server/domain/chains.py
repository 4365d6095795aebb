"""Chains (issue 21): a job that runs ``after`` other jobs of its environment. Pure.

A job's ``after`` names its upstream jobs, the outcome that counts (``on``) and a window.
docs/semantics.md "Chains" explains the rules to users; in short:

- An upstream run *counts* once it has finally ended (``is_final``: no retry of it will
  follow) with the outcome ``on`` asks for (``qualifies``): ``success`` = completed,
  ``failure`` = failed or expired on its last attempt, ``completion`` = either. Skipped and
  cancelled runs never count.
- Each counted end causes at most one run of each downstream job (storage keeps a unique
  key on (downstream job, upstream run)).
- The end that was just recorded (the *trigger*) fires a downstream job when each of its
  other upstream jobs has an unconsumed counted end newer than the last one of that job
  that already caused a run of it, and all the chosen ends lie within ``within_seconds``
  of each other (``choose``). Ends passed over (too old, or older than a newer one that
  was chosen) are simply ignored; they never cause a run later.

Definitions are checked by ``parse_after`` (shape) and ``check_graph`` (every upstream
exists, no job depends on itself, no cycle; a cycle is named like ``a -> b -> a``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .errors import InvalidInput
from .model import RunStatus
from .policies import will_retry
from .text import text_problem

ON_SUCCESS, ON_FAILURE, ON_COMPLETION = "success", "failure", "completion"
ON_VALUES = (ON_SUCCESS, ON_FAILURE, ON_COMPLETION)
DEFAULT_WITHIN_SECONDS = 3600
WITHIN_MAX_SECONDS = 30 * 24 * 3600
UPSTREAM_MAX = 20
_KEYS = ("jobs", "on", "within_seconds")


@dataclass(frozen=True, slots=True)
class After:
    """A job's upstream jobs (by name), the outcome that counts and the window."""

    jobs: tuple[str, ...]
    on: str = ON_SUCCESS
    within_seconds: int = DEFAULT_WITHIN_SECONDS

    def as_json(self) -> dict[str, Any]:
        return {"jobs": list(self.jobs), "on": self.on, "within_seconds": self.within_seconds}


def from_json(value: Any) -> After | None:
    """The stored form back (None: no chain). Trusts what ``parse_after`` wrote."""
    if not value:
        return None
    return After(jobs=tuple(value["jobs"]), on=value.get("on", ON_SUCCESS),
                 within_seconds=int(value.get("within_seconds", DEFAULT_WITHIN_SECONDS)))


def parse_after(value: Any, own_name: str) -> After | None:
    """A definition's ``after``: None (no chain), a list of job names, or an object
    ``{"jobs": [...], "on": ..., "within_seconds": ...}``. InvalidInput names the field."""
    if value is None:
        return None
    if isinstance(value, list):
        value = {"jobs": value}
    if not isinstance(value, dict):
        raise InvalidInput("after: must be an object {jobs, on, within_seconds} or a list of "
                           "job names")
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        raise InvalidInput(f"after: unknown field {unknown[0]!r} (allowed: jobs, on, "
                           "within_seconds)")
    names = _upstream_names(value.get("jobs"), own_name)
    on = value.get("on", ON_SUCCESS)
    if on not in ON_VALUES:
        raise InvalidInput("after.on: must be one of success, failure, completion")
    within = value.get("within_seconds", DEFAULT_WITHIN_SECONDS)
    if isinstance(within, bool) or not isinstance(within, int) or not (
            1 <= within <= WITHIN_MAX_SECONDS):
        raise InvalidInput(f"after.within_seconds: must be a whole number between 1 and "
                           f"{WITHIN_MAX_SECONDS} (30 days)")
    return After(jobs=tuple(names), on=on, within_seconds=within)


def _upstream_names(names: Any, own_name: str) -> list[str]:
    """``after.jobs``: distinct job names, text a database can store, not the job's own."""
    if not isinstance(names, list) or not names:
        raise InvalidInput("after.jobs: must be a non-empty list of job names")
    if len(names) > UPSTREAM_MAX:
        raise InvalidInput(f"after.jobs: at most {UPSTREAM_MAX} jobs")
    if not all(isinstance(n, str) and n for n in names):
        raise InvalidInput("after.jobs: every item must be a job name (a non-empty string)")
    for n in names:
        if (why := text_problem(n)) is not None:
            raise InvalidInput(f"after.jobs: a job name {why}")
    if len(set(names)) != len(names):
        dup = next(n for i, n in enumerate(names) if n in names[:i])
        raise InvalidInput(f"after.jobs: {dup!r} is named twice")
    if own_name in names:
        raise InvalidInput(f"after.jobs: a job cannot run after itself ({own_name!r})")
    return names


def check_graph(name: str, after: After | None, known: Collection[str],
                graph: Mapping[str, Sequence[str]]) -> None:
    """Refuse ``after`` for job ``name`` if it names a job the environment lacks, or if it
    closes a cycle. ``graph``: every other job's upstream names (job -> upstreams)."""
    if after is None:
        return
    for up in after.jobs:
        if up not in known:
            raise InvalidInput(f"after.jobs: no job named {up!r} in this environment")
    refuse_cycle(name, after, graph)


def refuse_cycle(name: str, after: After, graph: Mapping[str, Sequence[str]]) -> None:
    """InvalidInput naming the loop if job ``name`` waiting for ``after.jobs`` closes a
    cycle in ``graph`` (every job's upstream names; ``name``'s own entry is replaced). The
    storage asks again under the environment's lock, for two definitions that race."""
    loop = find_cycle(name, {**graph, name: after.jobs})
    if loop is not None:
        raise InvalidInput("after: the jobs would wait for each other in a cycle: "
                           + " -> ".join(loop))


def find_cycle(start: str, edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A path ``start -> ... -> start`` along ``edges`` (job -> the jobs it runs after), or
    None. Depth first, upstreams in their given order, so the answer is deterministic."""
    seen: set[str] = set()
    path = [start]

    def visit(node: str) -> list[str] | None:
        for nxt in edges.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt in seen:
                continue
            seen.add(nxt)
            path.append(nxt)
            found = visit(nxt)
            if found is not None:
                return found
            path.pop()
        return None

    return visit(start)


# -- firing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class End:
    """An upstream run that has ended: enough to judge whether it counts."""

    run_id: int
    job_name: str
    status: RunStatus
    end_time: datetime
    attempt: int = 1
    max_retries: int = 0  # its job's, now: whether a retry of it will follow


def is_final(e: End) -> bool:
    """Whether no retry of this end will follow (a completed run is always final)."""
    if e.status is RunStatus.COMPLETED:
        return True
    if e.status in (RunStatus.FAILED, RunStatus.EXPIRED):
        return not will_retry(e.attempt, e.max_retries)
    return False


def qualifies(status: RunStatus, on: str) -> bool:
    """Whether an end of this status is the outcome ``on`` waits for."""
    if status is RunStatus.COMPLETED:
        return on in (ON_SUCCESS, ON_COMPLETION)
    if status in (RunStatus.FAILED, RunStatus.EXPIRED):
        return on in (ON_FAILURE, ON_COMPLETION)
    return False


def counts(e: End, on: str) -> bool:
    return is_final(e) and qualifies(e.status, on)


def choose(after: After, trigger: End, candidates: Mapping[str, Sequence[End]],
           consumed_until: Mapping[str, datetime | None]) -> list[End] | None:
    """The ends that fire the downstream job now, the trigger first, or None.

    ``candidates``: for each other upstream job, its ends not yet consumed by this
    downstream job; ``consumed_until``: for each upstream job, the end time of its newest
    end that already caused a run of it (older ends are passed over). The newest counted
    candidate of each upstream is chosen; all chosen ends must lie within the window."""
    if trigger.job_name not in after.jobs or not counts(trigger, after.on):
        return None
    window = timedelta(seconds=after.within_seconds)
    chosen = [trigger]
    for up in after.jobs:
        if up == trigger.job_name:
            continue
        floor = consumed_until.get(up)
        fit = [e for e in candidates.get(up, ())
               if e.job_name == up and counts(e, after.on)
               and (floor is None or e.end_time > floor)
               and abs(trigger.end_time - e.end_time) <= window]
        if not fit:
            return None
        chosen.append(max(fit, key=lambda e: (e.end_time, e.run_id)))
    times = [e.end_time for e in chosen]
    if max(times) - min(times) > window:
        return None
    return chosen


def fired_at(chosen: Sequence[End]) -> datetime:
    """The downstream run's instant: when the last needed upstream run ended."""
    return max(e.end_time for e in chosen)
