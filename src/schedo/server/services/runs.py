"""Run use cases: history and completion reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...limits import ERROR_MAX_BYTES, OUTPUT_MAX_BYTES
from ..domain.errors import InvalidInput, SchedoError
from ..domain.model import RunStatus
from ..domain.records import Completion, Run
from ..domain.timefmt import from_ms
from .chains import woken
from .context import Principal, Services

OUTPUT_MAX = OUTPUT_MAX_BYTES
ERROR_MAX = ERROR_MAX_BYTES
# Unix-ms report times are accepted between 2000-01-01 and 2200-01-01.
MS_MIN, MS_MAX = 946_684_800_000, 7_258_118_400_000


def _cap(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore") + "\n… [truncated]"


async def history(
    svc: Services, p: Principal, job_id: int, cursor: int | None, limit: int
) -> list[Run]:
    return await svc.store.list_executions(p.env_id, job_id, cursor, limit)


async def history_views(
    svc: Services, p: Principal, job_id: int, cursor: int | None, limit: int
) -> list[Sequence[Any]]:
    """``history`` as the API lists it: rows of ``storage/run_views.VIEW_COLUMNS``."""
    return await svc.store.run_views(p.env_id, job_id, cursor, limit)


def completion(
    *, success: bool, output: str | None, error: str | None, start_ms: int | None,
    end_ms: int | None, exit_code: int | None = None,
) -> Completion:
    """A report as the server stores it (caps applied, times checked)."""
    for value, field in ((start_ms, "start_server_time_utc"), (end_ms, "complete_server_time_utc")):
        if value is not None and not MS_MIN <= value <= MS_MAX:
            raise InvalidInput(f"{field}: Unix milliseconds between years 2000 and 2200")
    if exit_code is not None and not -(2**31) <= exit_code < 2**31:
        raise InvalidInput("exit_code: must be a 32-bit integer")
    return Completion(
        success=success,
        output=_cap(output, OUTPUT_MAX),
        error=_cap(error, ERROR_MAX),
        exit_code=exit_code,
        start_time=from_ms(start_ms) if start_ms is not None else None,
        end_time=from_ms(end_ms) if end_ms is not None else None,
    )


async def get(svc: Services, p: Principal, exec_id: int) -> Run:
    return await svc.store.get_execution(p.env_id, exec_id)


async def complete_in(
    svc: Services, env_id: int, reports: list[tuple[int, Completion]]
) -> list[tuple[int, Run | SchedoError]]:
    """Reports on runs of one environment, in one transaction; each gets its own outcome.
    The one place that ends runs by a report (workers, agents, webhook receivers through the
    API, the push dispatcher), so its wake-up lives here: a failure that ended a run may have
    created its retry, for the pullers and the reaper."""
    with woken(svc):  # runs of jobs chained after the ended ones (services/chains.py)
        done = await svc.store.complete_many(env_id, reports, svc.clock.now())
    out: list[tuple[int, Run | SchedoError]] = []
    retry = False
    ended: set[str] = set()
    for exec_id, result in done:
        if isinstance(result, SchedoError):
            out.append((exec_id, result))
            continue
        ex, changed = result
        retry = retry or (changed and ex.status is RunStatus.FAILED)
        if changed:
            ended.add(ex.job_code)
        out.append((exec_id, ex))
    if retry:
        svc.bus.runs_ready.notify()
        svc.bus.deadlines_changed.notify()
    elif ended:  # an end may release a buffered run (overlap=buffer_one): its pullers only
        svc.bus.runs_ready.notify({env_id: ended})
    return out


async def complete_one(svc: Services, env_id: int, exec_id: int, report: Completion) -> Run:
    """One report; raises NotFound or Conflict as ``complete_in`` reports them."""
    [(_, result)] = await complete_in(svc, env_id, [(exec_id, report)])
    if isinstance(result, SchedoError):
        raise result
    return result


async def complete_batch(
    svc: Services, p: Principal, reports: list[tuple[int, Completion]]
) -> list[tuple[int, Run | SchedoError]]:
    """Many reports in one transaction; each gets its own outcome."""
    return await complete_in(svc, p.env_id, reports)


async def complete(svc: Services, p: Principal, exec_id: int, report: Completion) -> Run:
    return await complete_one(svc, p.env_id, exec_id, report)
