"""The notification mail: subject, plain-text and HTML parts (Jinja2, inline templates).

The templates live here rather than as package data so an installed wheel cannot lose them;
the HTML environment autoescapes everything (job names, errors and output are user data).

Each mail says which job (name and id), which environment, when (the scheduled instant and
when the run ended, UTC), what failed (the error and the start of the output), which attempt
it was, and links to the run in the dashboard: ``{public_url}/ui/jobs/{job_id}/runs/{execution_id}``
(``run_url``), served by the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache
from typing import TYPE_CHECKING, Any

from ..domain.model import NoticeKind
from ..domain.timefmt import rfc3339
from ..services.notifications import Notification

if TYPE_CHECKING:
    from jinja2 import Template

ERROR_MAX = 4000  # characters of the error shown in a mail (the stored one may be 16 KiB)
OUTPUT_MAX = 2000  # the stored output head is at most this long already

_TEXT = """\
Job "{{ job_name }}" {{ headline }}.

Job:            {{ job_name }} (id {{ job_id }})
Environment:    {{ environment }}
Run:            execution {{ execution_id }}, attempt {{ attempt }}, {{ status }}
Scheduled for:  {{ scheduled_for }}
Ended at:       {{ ended_at }}
{% if error %}
Error:
{{ error | indent(4, first=True) }}
{% endif %}{% if output %}
Output (start):
{{ output | indent(4, first=True) }}
{% endif %}
View the run: {{ url }}

--
{% if kind == "failing" %}You will get one more mail when the job recovers, not one per failed run.
{% endif %}Sent by Schedo to the notification list of your organisation. Mute the job to
stop its notifications.
"""

_HTML = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: sans-serif; color: #222; max-width: 44em;">
<h2 style="color: {{ '#b3261e' if failing else '#1e7d32' }};">
Job <code>{{ job_name }}</code> {{ headline }}</h2>
<table cellpadding="4" style="border-collapse: collapse;">
<tr><th align="left">Job</th><td>{{ job_name }} (id {{ job_id }})</td></tr>
<tr><th align="left">Environment</th><td>{{ environment }}</td></tr>
<tr><th align="left">Run</th>
<td>execution {{ execution_id }}, attempt {{ attempt }}, {{ status }}</td></tr>
<tr><th align="left">Scheduled for</th><td>{{ scheduled_for }}</td></tr>
<tr><th align="left">Ended at</th><td>{{ ended_at }}</td></tr>
</table>
{% if error %}<h3>Error</h3>
<pre style="background: #f6f6f6; padding: 8px; white-space: pre-wrap;">{{ error }}</pre>
{% endif %}{% if output %}<h3>Output (start)</h3>
<pre style="background: #f6f6f6; padding: 8px; white-space: pre-wrap;">{{ output }}</pre>
{% endif %}
<p><a href="{{ url }}">View the run in the dashboard</a></p>
<p style="color: #777; font-size: small;">
{% if kind == "failing" %}You will get one more mail when the job recovers, not one per failed run.
{% endif %}Sent by Schedo to the notification list of your organisation. Mute the job to
stop its notifications.</p>
</body></html>
"""



@cache
def _templates() -> tuple[Template, Template]:
    """The text and HTML templates, compiled at the first mail: a server that sends none
    never loads Jinja2 for them (issue 18, idle RSS)."""
    from jinja2 import Environment, StrictUndefined

    text = Environment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)
    markup = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    return text.from_string(_TEXT), markup.from_string(_HTML)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def run_url(public_url: str, job_id: int, execution_id: int) -> str:
    """The dashboard page of one run (served by the dashboard)."""
    return f"{public_url.rstrip('/')}/ui/jobs/{job_id}/runs/{execution_id}"


def _one_line(text: str) -> str:
    """No control characters in a header (a name could carry a newline)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _clip(text: str | None, limit: int) -> str | None:
    if not text:
        return None
    return text if len(text) <= limit else text[:limit] + "\n… [truncated]"


HEADLINES: dict[str, str] = {
    NoticeKind.FAILING: "is failing",
    NoticeKind.RECOVERED: "has recovered",
    NoticeKind.SLOW: "ran longer than its max_duration_seconds",
    NoticeKind.NO_SUCCESS: "has not succeeded within its success_within_seconds window",
    NoticeKind.PAUSED: "was paused after repeated failures",
    NoticeKind.REMINDER: "is still failing",
}
SUBJECTS: dict[str, str] = {NoticeKind.RECOVERED: "recovered"}


def headline(kind: str) -> str:
    return HEADLINES.get(kind, kind)


def subject(n: Notification) -> str:
    what = SUBJECTS.get(n.kind, headline(n.kind))
    return f"[Schedo] {_one_line(n.job_name)} {what}"


def context(n: Notification, environment_name: str | None, public_url: str) -> dict[str, Any]:
    env = (
        f"{environment_name} (id {n.environment_id})" if environment_name else str(n.environment_id)
    )
    return {
        "subject": subject(n),
        "failing": n.kind != NoticeKind.RECOVERED,
        "headline": headline(n.kind),
        "kind": n.kind,
        "job_name": n.job_name,
        "job_id": n.job_id,
        "environment": env,
        "execution_id": n.execution_id,
        "attempt": n.attempt,
        "status": n.execution_status,
        "scheduled_for": rfc3339(n.scheduled_for),
        "ended_at": rfc3339(n.ended_at),
        "error": _clip(n.error, ERROR_MAX),
        "output": _clip(n.output, OUTPUT_MAX),
        "url": run_url(public_url, n.job_id, n.execution_id),
    }


def render(n: Notification, environment_name: str | None, public_url: str) -> Rendered:
    ctx = context(n, environment_name, public_url)
    return Rendered(
        subject=ctx["subject"], text=_templates()[0].render(ctx), html=_templates()[1].render(ctx)
    )


def message(r: Rendered, n: Notification, *, sender: str, recipient: str) -> EmailMessage:
    """A multipart/alternative mail (text first, HTML preferred by capable clients)."""
    msg = EmailMessage()
    msg["Subject"] = r.subject
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = format_datetime(n.created_at)
    domain = sender.rpartition("@")[2] or "schedo.localhost"
    msg["Message-ID"] = make_msgid(f"ntf{n.id}", domain=_one_line(domain) or None)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    msg["X-Schedo-Notification"] = str(n.id)
    msg["X-Schedo-Job"] = str(n.job_id)
    msg.set_content(r.text)
    msg.add_alternative(r.html, subtype="html")
    return msg
