"""Presentation of the jobs table's sorting and duration trends (issue 22): the sort links of
the column headers and the per-row sparkline of the latest runs' durations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median
from urllib.parse import urlencode

from ..domain.errors import InvalidInput
from ..services.dashboard import JOB_SORTS, DayRuns, RunMark
from .render import duration_ms

SORT_LABELS = {"name": "Name", "status": "Status", "last_run": "Last run",
               "next_run": "Next run", "duration": "Duration"}
assert set(SORT_LABELS) == set(JOB_SORTS)


@dataclass(frozen=True)
class Sorting:
    """The table's sort (``key`` "" : the order jobs were created) and the filters it keeps."""

    key: str
    descending: bool
    filters: dict[str, str]

    def aria(self, key: str) -> str | None:
        if key != self.key:
            return None
        return "descending" if self.descending else "ascending"

    def page_href(self) -> str:
        """The jobs page showing these filters in this order (the address bar's URL after
        the filter form changed them through htmx)."""
        params = {k: v for k, v in self.filters.items() if v}
        if self.key:
            params.update(sort=self.key, dir="desc" if self.descending else "asc")
        return "/ui/jobs" + ("?" + urlencode(params) if params else "")

    def href(self, key: str) -> str:
        """The header's link: sort by ``key``, ascending, or the other way if already so."""
        flip = key == self.key and not self.descending
        params = {k: v for k, v in self.filters.items() if v}
        params.update(sort=key, dir="desc" if flip else "asc")
        return "/ui/jobs?" + urlencode(params)


def sorting(sort: str, direction: str, filters: dict[str, str]) -> Sorting:
    """Unknown values are dropped (creation order, ascending), never an error."""
    key = sort if sort in JOB_SORTS else ""
    return Sorting(key=key, descending=bool(key) and direction == "desc", filters=filters)


@dataclass(frozen=True)
class Spark:
    points: str  # the polyline's "x,y x,y ..."
    last_x: float
    last_y: float
    width: int
    height: int
    text: str  # "median 1.2 s, last 900 ms"
    runs: int


def sparkline(marks: list[RunMark], width: int = 80, height: int = 20) -> Spark | None:
    """The durations of ``marks`` (oldest first) that have one, as a line scaled to the
    longest; None when none has a duration."""
    values = [m.duration for m in marks if m.duration is not None]
    if not values:
        return None
    top = max(max(values), 1)
    step = (width - 4) / max(len(values) - 1, 1)
    xy = [(2 + i * step, height - 2 - v / top * (height - 4)) for i, v in enumerate(values)]
    if len(xy) == 1:
        xy = [(2.0, xy[0][1]), (width - 2.0, xy[0][1])]
    return Spark(
        points=" ".join(f"{x:.1f},{y:.1f}" for x, y in xy),
        last_x=xy[-1][0],
        last_y=xy[-1][1],
        width=width,
        height=height,
        text=f"median {duration_ms(median(values))}, last {duration_ms(values[-1])}",
        runs=len(values),
    )


@dataclass(frozen=True)
class DayCell:
    """One day of the job page's day strip: its runs by outcome, a colour class and the
    words a tooltip and a screen reader get."""

    day: date
    css: str  # "empty", "ok", "warn" (some failed or missed), "bad" (none succeeded) or
    # "open" (only runs that are pending, running or were cancelled)
    label: str
    href: str


def _words(d: DayRuns) -> str:
    if not d.total:
        return "no runs"
    parts = [f"{n} {word}" for n, word in ((d.ok, "succeeded"), (d.failed, "failed"),
                                           (d.missed, "missed or expired"),
                                           (d.other, "pending, running or cancelled")) if n]
    return ", ".join(parts)


def day_cells(job_id: int, days: list[DayRuns]) -> list[DayCell]:
    out = []
    for d in days:
        bad = d.failed + d.missed
        css = ("empty" if not d.total else "warn" if bad and d.ok else "bad" if bad
               else "ok" if d.ok else "open")
        out.append(DayCell(day=d.day, css=css, label=f"{d.day.isoformat()}: {_words(d)}",
                           href=f"/ui/jobs/{job_id}/days/{d.day.isoformat()}"))
    return out


FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 12, 30)
DAY_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(text: str) -> date:
    """A day page's ``YYYY-MM-DD`` (1970-01-01 to 9999-12-30); InvalidInput (400) otherwise."""
    try:
        if not DAY_TEXT.match(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"day: a date written YYYY-MM-DD ({text[:40]!r})") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"day: a date from {FIRST_DAY} to {LAST_DAY}")
    return day


def shift_day(day: date, by: int) -> date | None:
    try:
        moved = day + timedelta(days=by)
    except OverflowError:
        return None
    return moved if FIRST_DAY <= moved <= LAST_DAY else None
