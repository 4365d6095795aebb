"""A job's run strip on the jobs table (issues 18 and 22): its latest runs, oldest first, one
small mark per run with its status as icon + colour, a tooltip (title) and a word for screen
readers. The marks link to the run page but stay out of the tab order (the job's name is the
row's link).

Written in Python rather than as a Jinja2 macro: a page shows 50 strips of 20 marks, and the
macro's 1,000 calls (each escaping a dozen values) were about half of the page's CPU. The marks'
values are ids, numbers, times (digits) and the fixed status words, escaped once per status;
only the job's name is escaped per strip. The output is the macro's, byte for byte
(tests/unit/test_web_strips.py keeps the macro and compares)."""

from __future__ import annotations

from functools import cache

from markupsafe import Markup, escape

from ..services.dashboard import RunMark
from .render import status_of, utc_text

NO_RUNS = Markup('<span class="none">no runs yet</span>')


@cache
def _mark_parts(status: str) -> tuple[str, str, str]:
    """A mark's escaped text before its run id, its status word, and its link's inside."""
    icon, word, css = (str(escape(v)) for v in status_of(status))
    st = str(escape(status))
    head = f'<li class="mark {css} st-{st}" data-status="{st}" title="Run '
    tail = (f'<span class="icon" aria-hidden="true">{icon}</span>'
            f'<span class="visually-hidden">{word}</span></a></li>')
    return head, word, tail


def run_strip(job_id: int, name: str, marks: list[RunMark]) -> Markup:
    """The strip of ``marks`` (oldest first) of job ``job_id`` named ``name``."""
    if not marks:
        return NO_RUNS
    n = len(marks)
    out = [f'<ol class="strip" aria-label="Last {n} run{"s" if n != 1 else ""} of '
           f'{escape(name)}, oldest first">']
    link = f'"><a href="/ui/jobs/{job_id}/runs/'
    for r in marks:
        head, word, tail = _mark_parts(r.status)
        attempt = f" (attempt {r.attempt})" if r.attempt > 1 else ""
        # ids, numbers and utc_text's digits need no escaping
        out.append(f'{head}{r.id}: {word}{attempt}, for {utc_text(r.scheduled_for)}{link}'
                   f'{r.id}" tabindex="-1">{tail}')
    out.append("</ol>")
    return Markup("".join(out))
