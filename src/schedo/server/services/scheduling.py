"""The scheduler's use cases: create due runs (ticks) and end runs past their deadlines
(expiry), each with the wake-ups it implies. The loops that call them (``scheduler``) decide
only when, and what to do with a row that fails alone."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from ..domain.model import RunStatus
from ..domain.records import Run
from ..storage.contracts import Planner, TickResult
from .chains import woken
from .context import Services

__all__ = ["Planner", "TickResult"]


def topics(created: Sequence[Run]) -> dict[int, set[str]]:
    """The environments and job codes that have new runs (who to wake)."""
    out: dict[int, set[str]] = {}
    for e in created:
        out.setdefault(e.environment_id, set()).add(e.job_code)
    return out


async def tick(
    svc: Services, now: datetime, limit: int, planner: Planner, skip: Collection[int] = ()
) -> TickResult:
    """Handle up to ``limit`` due jobs in one transaction (``SchedulerStore.tick``); wake the
    pullers of the new pending runs and the reaper (new deadlines)."""
    res = await svc.store.tick(now, limit, planner, skip)
    if res.cancelled:  # overlap=cancel_other: the workers holding them stop them
        svc.bus.runs_cancelled.notify({e.environment_id: frozenset() for e in res.cancelled})
    if res.created:
        pending = [e for e in res.created if e.status is RunStatus.PENDING]
        svc.bus.runs_ready.notify(topics(pending))
        svc.bus.deadlines_changed.notify()
    return res


async def next_tick(svc: Services, skip: Collection[int] = ()) -> datetime | None:
    """The earliest next_run_at of an unpaused job (not one of ``skip``: set aside)."""
    return await svc.store.earliest_next_run_at(skip)


async def expire_overdue(
    svc: Services,
    now: datetime,
    *,
    held_before: datetime | None = None,
    skip: Collection[int] = (),
    only: Sequence[int] | None = None,
) -> list[Run]:
    """Expire one batch of runs past their deadlines (``SchedulerStore.expire_overdue``);
    their retries may have been created, so the pullers are woken."""
    with woken(svc):  # an expired last attempt may fire the jobs chained after it
        expired = await svc.store.expire_overdue(now, held_before=held_before, skip=skip,
                                                 only=only)
    if expired:
        svc.bus.runs_ready.notify()
    return expired


async def overdue_ids(
    svc: Services, now: datetime, *, held_before: datetime | None = None,
    skip: Collection[int] = (),
) -> list[int]:
    return await svc.store.overdue_ids(now, held_before=held_before, skip=skip)


async def next_deadline(
    svc: Services, not_before: datetime | None = None, skip: Collection[int] = ()
) -> datetime | None:
    """The nearest pick-up or run deadline of a live run (ignoring those before
    ``not_before`` and the runs of ``skip``: set aside)."""
    return await svc.store.earliest_deadline(not_before=not_before, skip=skip)


async def write_timed_alerts(svc: Services, now: datetime) -> int:
    """Write the alerts no run's end brings (``AlertStore``): no-success windows that
    passed, reminders that are due, runs still running past their max duration; wake the
    notifier when there are some."""
    total = 0
    while True:
        n = await svc.store.alert_missed_windows(now)
        n += await svc.store.send_reminders(now)
        n += await svc.store.alert_slow_runs(now)
        total += n
        if n == 0:
            break
    if total:
        svc.bus.deadlines_changed.notify()
    return total


async def next_window(svc: Services) -> datetime | None:
    """The earliest no-success or reminder due time of an unpaused job."""
    found = [t for t in (await svc.store.earliest_window_due(),
                         await svc.store.earliest_reminder_due()) if t is not None]
    return min(found) if found else None
