"""The Slack/Mattermost channel: ``{"text": ...}`` POSTed to an incoming-webhook URL.

Incoming webhooks authenticate by their secret URL, so the message is not signed. It goes
through the push module's outbound client (address guard, no redirects, timeouts); the
outcome rules are the JSON webhook's (``webhook.outcome``: 2xx sent, 4xx but 408/425/429
permanent, anything else retried).
"""

from __future__ import annotations

import json

from ..domain.timefmt import rfc3339
from ..push.http import OutboundClient
from ..services.notifications import Notification
from . import Outcome
from .render import _clip, headline, run_url
from .webhook import TIMEOUT, outcome

ERROR_MAX = 1000


def text(n: Notification, public_url: str) -> str:
    """One short message: what happened, the run, the error's start and a link."""
    lines = [f"Schedo: job \"{n.job_name}\" {headline(n.kind)}",
             f"Run {n.execution_id} (attempt {n.attempt}, {n.execution_status}), "
             f"scheduled for {rfc3339(n.scheduled_for)}"]
    err = _clip(n.error, ERROR_MAX)
    if err:
        lines.append(f"Error: {err}")
    lines.append(run_url(public_url, n.job_id, n.execution_id))
    return "\n".join(lines)


async def deliver(client: OutboundClient, url: str, n: Notification, *,
                  public_url: str) -> Outcome:
    raw = json.dumps({"text": text(n, public_url)}, ensure_ascii=False).encode()
    res = await client.post(url, raw, {"content-type": "application/json"}, timeout=TIMEOUT)
    return outcome(res)
