"""Notification delivery (SPEC 4): mail through SMTP and an optional JSON webhook.

The storage layer records one notification per turn of a job (``notifications``, written in
the transaction that ended the run). ``sender.Notifier`` fans each one out into deliveries
(one per address of the organisation's email list, plus the operator's
``SCHEDO_NOTIFY_WEBHOOK_URL``), claims due deliveries under a lease and sends them:
``smtp`` (transport), ``render`` (the mail), ``webhook`` (the JSON channel), ``slack``
(Slack/Mattermost incoming webhooks). An environment with alert channels (issue 19) routes
its notices to the job's chosen channels instead of the organisation's list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one send went: ``ok``; else ``error`` and whether retrying can help."""

    ok: bool
    error: str | None = None
    permanent: bool = False  # e.g. the recipient does not exist: retrying cannot help


SENT = Outcome(ok=True)
