"""The jobs table's run strip written in Python (web/strips.py) is the Jinja2 macro it
replaced, byte for byte: every status (and an unknown one), retries, names that need escaping,
no marks, one mark and a full strip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schedo.server.services.dashboard import RunMark
from schedo.server.web.render import STATUS, templates
from schedo.server.web.strips import run_strip

# the macro as templates/_run_strip.html had it (8004a51)
MACRO = (
    '{% macro run_strip(job, marks) %}{% if marks %}<ol class="strip" aria-label="Last '
    '{{ marks|length }} run{{ "s" if marks|length != 1 }} of {{ job.name }}, oldest '
    'first">{% for r in marks %}{% set s = status_of(r.status) %}<li class="mark {{ s[2] }} '
    'st-{{ r.status }}" data-status="{{ r.status }}" title="Run {{ r.id }}: {{ s[1] }}'
    '{% if r.attempt > 1 %} (attempt {{ r.attempt }}){% endif %}, for '
    '{{ r.scheduled_for|utc }}"><a href="/ui/jobs/{{ job.id }}/runs/{{ r.id }}" '
    'tabindex="-1"><span class="icon" aria-hidden="true">{{ s[0] }}</span><span '
    'class="visually-hidden">{{ s[1] }}</span></a></li>{% endfor %}</ol>{% else %}<span '
    'class="none">no runs yet</span>{% endif %}{% endmacro %}'
    "{{ run_strip(job, marks) }}"
)
T = datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC)


class FakeJob:
    def __init__(self, job_id: int, name: str) -> None:
        self.id, self.name = job_id, name


def _marks(n: int) -> list[RunMark]:
    statuses = [*STATUS, "<weird & 'odd'>"]
    return [RunMark(id=1000 + i, job_id=7, status=statuses[i % len(statuses)],
                    scheduled_for=T + timedelta(minutes=i), attempt=1 + (i % 3),
                    duration=None if i % 2 else 10 * i) for i in range(n)]


def test_the_python_strip_is_the_macro_byte_for_byte() -> None:
    macro = templates().from_string(MACRO)
    for name in ("nightly", 'a <b> & "c" \'d\'', "İstanbul"):
        for n in (0, 1, 2, 20):
            want = macro.render(job=FakeJob(7, name), marks=_marks(n))
            got = run_strip(7, name, _marks(n))
            assert str(got) == want, (name, n)
    assert "&lt;b&gt; &amp; &#34;c&#34; &#39;d&#39;" in str(run_strip(7, 'a <b> & "c" \'d\'',
                                                                     _marks(1)))
