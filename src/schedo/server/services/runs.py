"""Execution use cases: history and completion reports."""

from __future__ import annotations

from ..domain.records import Completion, Execution
from ..domain.timefmt import from_ms
from .context import Principal, Services

OUTPUT_MAX = 64 * 1024
ERROR_MAX = 16 * 1024
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
) -> list[Execution]:
    return await svc.store.list_executions(p.env_id, job_id, cursor, limit)


async def complete(
    svc: Services,
    p: Principal,
    exec_id: int,
    *,
    success: bool,
    output: str | None,
    error: str | None,
    start_ms: int | None,
    end_ms: int | None,
    exit_code: int | None = None,
) -> Execution:
    report = Completion(
        success=success,
        output=_cap(output, OUTPUT_MAX),
        error=_cap(error, ERROR_MAX),
        exit_code=exit_code,
        start_time=from_ms(start_ms) if start_ms is not None else None,
        end_time=from_ms(end_ms) if end_ms is not None else None,
    )
    ex, changed = await svc.store.complete(p.env_id, exec_id, report, svc.clock.now())
    if changed and not success:
        svc.bus.runs_ready.notify()  # a retry may exist now
        svc.bus.deadlines_changed.notify()
    return ex
