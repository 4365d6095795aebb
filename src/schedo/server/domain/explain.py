"""Why did or didn't a job run at an instant (issue 19), as a pure function: whether the
schedule fires there (the DST rule applied by ``domain/cron.py``) and what the records say
happened, or what will happen.

``explain(job, at, now, runs, oldest, misfire_grace)``: ``runs`` are the job's schedule runs
(source ``schedule``) whose instant is ``at`` or later, oldest first (a few suffice: the
tick's own attempts and the next record); ``oldest`` is the instant of the job's oldest
retained run (None: none retained).

``verdict`` is one of ``ran``, ``skipped_blocking``, ``missed_caught_up``, ``missed_skipped``,
``not_a_fire_time``, ``before_definition``, ``not_recorded`` (paused then, or beyond
retention), ``paused``, ``will_run``, ``running``, ``pending``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .lifecycle import BLOCKED_ERROR
from .model import RunStatus, Source, Trigger
from .records import Job, Run
from .schedules import for_job
from .timefmt import rfc3339

ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Explanation:
    at: datetime
    local_time: str
    fires: bool
    next_fire: datetime | None  # the first fire instant at or after ``at``
    verdict: str
    message: str
    executions: list[Run] = field(default_factory=list)
    dst_note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": rfc3339(self.at), "local_time": self.local_time, "fires": self.fires,
            "next_fire": rfc3339(self.next_fire), "verdict": self.verdict,
            "message": self.message, "dst_note": self.dst_note,
            "executions": [{"id": e.id, "attempt": e.attempt, "status": e.status.value,
                            "trigger": e.trigger.value, "error": e.error}
                           for e in self.executions],
        }


def _dst_note(zone: ZoneInfo, at: datetime, fires: bool) -> str | None:
    local = at.astimezone(zone)
    before = (at - timedelta(hours=1)).astimezone(zone).utcoffset()
    if local.fold == 1 and before != local.utcoffset():
        return ("this local time happens twice today (clocks went back): a wall-clock "
                "schedule runs only on its first pass, a real-instant one on both")
    if before != local.utcoffset() and fires:
        return ("clocks changed within the hour before: a wall-clock time skipped by the "
                "change runs once, at the first instant after the gap")
    return None


def explain(job: Job, at: datetime, now: datetime, runs: Sequence[Run],
            oldest: datetime | None, misfire_grace: float = 15.0) -> Explanation:
    at = at.replace(microsecond=0)
    sched = for_job(job.cron_expression, job.timezone, job.anchor_at)
    nxt = sched.next_after(at - ONE_SECOND)
    fires = nxt == at
    zone = ZoneInfo(job.timezone)
    local = at.astimezone(zone)
    base = dict(at=at, local_time=local.isoformat(), fires=fires, next_fire=nxt,
                dst_note=_dst_note(zone, at, fires))
    own = [r for r in runs if r.scheduled_for == at and r.source is Source.SCHEDULE]
    if own:
        return _recorded(own, base, misfire_grace)
    if not fires:
        return Explanation(**base, verdict="not_a_fire_time",  # type: ignore[arg-type]
                           message=f"the schedule does not fire at this instant; it fires "
                                   f"next at {rfc3339(nxt)}")
    if at > now:
        if job.paused:
            return Explanation(**base, verdict="paused",  # type: ignore[arg-type]
                               message="the job is paused: it will not run unless resumed")
        return Explanation(**base, verdict="will_run",  # type: ignore[arg-type]
                           message="the job will run at this instant as scheduled")
    if at < job.created_at.replace(microsecond=0) or at < job.anchor_at - ONE_SECOND:
        return Explanation(**base, verdict="before_definition",  # type: ignore[arg-type]
                           message=f"before the job was defined ({rfc3339(job.created_at)}) "
                                   "or its schedule last changed")
    later = next((r for r in runs if r.scheduled_for > at), None)
    if (later is not None and later.status is RunStatus.SKIPPED and later.error
            and later.error.startswith("missed")):
        return Explanation(**base, verdict="missed_skipped",  # type: ignore[arg-type]
                           executions=[later],
                           message=f"missed while the scheduler was not running and not run "
                                   f"(catch-up policy); counted in the record of "
                                   f"{rfc3339(later.scheduled_for)} (execution {later.id}): "
                                   f"{later.error}")
    if oldest is None or at < oldest:
        return Explanation(**base, verdict="not_recorded",  # type: ignore[arg-type]
                           message="no record of this tick: it is older than the job's oldest "
                                   "retained run (retention), or the job was paused then")
    return Explanation(**base, verdict="not_recorded",  # type: ignore[arg-type]
                       message="no record of this tick: the job was paused then "
                               "(a paused job creates no runs)")


def _recorded(own: Sequence[Run], base: dict[str, Any], grace: float) -> Explanation:
    first = own[0]
    last = own[-1]
    if first.status is RunStatus.SKIPPED:
        if first.error == BLOCKED_ERROR:
            return Explanation(**base, verdict="skipped_blocking", executions=list(own),
                               message=f"skipped (execution {first.id}): the previous run "
                                       "of this blocking job was still pending or running")
        return Explanation(**base, verdict="missed_skipped", executions=list(own),
                           message=f"recorded as execution {first.id}: {first.error}")
    # a backfill makes past instants on request: late by design, not missed while down
    backfilled = first.trigger is Trigger.BACKFILL
    late = not backfilled and (first.created_at - first.scheduled_for).total_seconds() > grace
    tries = f" after {len(own)} attempts" if len(own) > 1 else ""
    if last.status in (RunStatus.PENDING, RunStatus.RUNNING):
        verdict, what = last.status.value, f"is {last.status.value}"
    else:
        verdict, what = "ran", f"ended {last.status.value}{tries}"
    if late:
        verdict = "missed_caught_up"
        what = f"was missed while the scheduler was not running, caught up and {what}"
    how = " (a backfill, made on request)" if backfilled else ""
    return Explanation(**base, verdict=verdict, executions=list(own),
                       message=f"ran as execution {first.id}{how}: {what}"
                       if not late else f"execution {first.id} {what}")
