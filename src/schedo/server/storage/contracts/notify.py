"""The notification outbox and its deliveries: storage protocol and promises.

Part of the storage contract; the rules that hold for every method are in
``storage/contracts/__init__.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ...domain.audit import Actor
from ...domain.pings import Ping
from ...domain.records import Channel, Job, Run


@dataclass(frozen=True, slots=True)
class Notification:
    """One turn of a job (an outbox row written by the transaction that ended the run)."""

    id: int
    kind: str  # a NoticeKind ("failing", "recovered", …)
    organization_id: int
    environment_id: int
    job_id: int
    job_name: str
    execution_id: int
    execution_status: str  # the run's status: "completed" | "failed" | "expired"
    attempt: int
    scheduled_for: datetime
    ended_at: datetime  # the run's end_time (the turn's time if the run is gone)
    error: str | None
    output: str | None  # the start of the run's output
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One channel/target of a notification and how sending it went."""

    id: int
    notification_id: int
    channel: str  # a ChannelKind: "email" | "webhook" | "slack"
    target: str  # the address or the URL
    status: str  # a DeliveryStatus: "pending" | "sent" | "failed" | "skipped"
    tries: int  # attempts started so far
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A claimed delivery with the notification it carries (``NotifyStore.due_deliveries``)."""

    delivery: Delivery
    notification: Notification
    environment_name: str | None  # None when the environment was deleted meanwhile


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """A notification with all of its deliveries (``NotifyStore.list_notifications``)."""

    notification: Notification
    deliveries: list[Delivery]


@dataclass(frozen=True, slots=True)
class NotifyWork:
    """What the notifier has to do (``NotifyStore.notify_work``)."""

    unfanned: bool  # notifications without deliveries yet
    next_attempt_at: datetime | None  # the earliest pending delivery (may be in the past)


class NotifyStore(Protocol):
    """The notification outbox. Rows of ``notifications`` are written by ``complete`` and
    ``expire_overdue`` (one per turn of an unmuted job); this protocol turns them into
    deliveries and tracks the sending. Delivery statuses: ``pending`` (to send, possibly
    later), ``sent``, ``failed`` (given up) and ``skipped`` (never sent, e.g. no SMTP)."""

    async def fan_out(self, now: datetime, webhook_url: str | None, limit: int) -> int:
        """Take up to ``limit`` notifications not fanned out yet (oldest first; SKIP LOCKED
        on PostgreSQL) and, in one transaction, insert one pending delivery (tries 0,
        next_attempt_at ``now``) per address in the notification's organisation's email
        list at this moment (channel "email") plus one for ``webhook_url`` if given
        (channel "webhook"), then mark them fanned out. When the notification's environment
        has alert channels (``ChannelStore``), the job's chosen channels (all when it chose
        none) replace the organisation's list: one delivery per email address (channel
        "email"), webhook URL ("webhook") or Slack URL ("slack"). Inserts ignore an existing
        (notification, channel, target) row, so a delivery is never created twice; a crash
        leaves both the deliveries and the mark, or neither. Returns how many notifications
        were fanned out."""

    async def due_deliveries(
        self, now: datetime, limit: int, lease_seconds: float = 120.0
    ) -> list[DueDelivery]:
        """Claim up to ``limit`` pending deliveries with next_attempt_at <= now (earliest
        first): in the same transaction (one UPDATE … WHERE id IN (SELECT … [FOR UPDATE SKIP
        LOCKED]) AND status = 'pending' RETURNING) their next_attempt_at becomes ``now +
        lease_seconds`` and tries grows by one, so no other sender (thread or process) gets
        them until the lease ends. A sender that crashes mid-send thus retries after the
        lease; one that finishes records the outcome with a ``mark_*`` call. Returns each
        claimed delivery (tries already counting this attempt) with its notification."""

    async def mark_sent(self, delivery_id: int, now: datetime) -> bool:
        """A pending delivery went out: status sent, sent_at ``now``, last_error cleared.
        Compare-and-swap on status pending: returns False (and changes nothing) otherwise."""

    async def mark_retry(
        self, delivery_id: int, error: str, next_attempt_at: datetime
    ) -> bool:
        """A pending delivery failed for now: keep it pending, record ``error`` and try again
        at ``next_attempt_at``. Returns False if it was not pending."""

    async def mark_failed(self, delivery_id: int, error: str) -> bool:
        """Give a pending delivery up: status failed, last_error ``error``. Returns False if
        it was not pending."""

    async def mark_skipped(self, delivery_id: int, reason: str) -> bool:
        """A pending delivery will never be sent (e.g. no SMTP server configured): status
        skipped, last_error ``reason``, and tries one less (the claim that led here was not a
        try). Returns False if it was not pending."""

    async def notify_work(self) -> NotifyWork:
        """Whether notifications wait to be fanned out, and the earliest next_attempt_at of a
        pending delivery (both from partial indexes: cheap enough to poll)."""

    async def list_notifications(
        self, org_id: int, limit: int, env_id: int | None = None, job_id: int | None = None
    ) -> list[NotificationRecord]:
        """The organisation's notifications, newest first, at most ``limit``, each with its
        deliveries (oldest first). ``env_id`` restricts them to one environment (environment
        keys); None returns every environment of the organisation. ``job_id`` restricts
        them to one job's. Never another organisation's."""


class AlertStore(Protocol):
    """Alerts that no run's end brings (issue 19, ``domain/alerts.py``)."""

    async def alert_missed_windows(self, now: datetime, limit: int = 200) -> int:
        """For up to ``limit`` unpaused jobs whose no-success window passed
        (``success_due_at <= now``): clear that due time (compare-and-swap, so several
        processes alert once) and, unless the job is muted, write one ``no_success``
        notification. Returns how many were written. The next window opens with the next
        success (or a change of the rule, or a resume)."""

    async def send_reminders(self, now: datetime, limit: int = 200) -> int:
        """For up to ``limit`` unpaused jobs whose reminder is due (``remind_at <= now``):
        move the due time on by ``remind_every_seconds`` (compare-and-swap) and, if the job
        is failing and not muted, write one ``reminder`` notification naming its latest run
        (at most one per run: a job with no new run since its last reminder gets none).
        Returns how many were written."""

    async def alert_slow_runs(self, now: datetime, limit: int = 200) -> int:
        """For up to ``limit`` running runs of unmuted jobs that have run longer than their
        job's ``max_duration_seconds``, write one ``slow`` notification (at most one per
        run, however often it is called or the run's end reports it again). Returns how
        many were written."""

    async def earliest_reminder_due(self) -> datetime | None:
        """The earliest reminder due time of an unpaused job (None: none)."""

    async def earliest_window_due(self) -> datetime | None:
        """The earliest no-success due time of an unpaused job (None: none)."""


class ChannelStore(Protocol):
    """An environment's alert channels (issue 19). Names are unique per environment
    (Collision, 409, for a second one); a foreign id is NotFound like a missing one. The
    notifier's fan-out reads them: an environment with channels sends each notice to the
    job's chosen channels (``jobs.channels``, by name; NULL: all of them) instead of the
    organisation's email list."""

    async def create_channel(self, env_id: int, name: str, kind: str,
                             addresses: Sequence[str], url: str | None,
                             now: datetime, actor: Actor | None = None) -> Channel:
        """A new channel (with an ``actor``, "created" is recorded, its URL only as
        "changed": it may hold a secret)."""

    async def list_channels(self, env_id: int) -> list[Channel]: ...

    async def get_channel(self, env_id: int, channel_id: int) -> Channel: ...

    async def update_channel(self, env_id: int, channel_id: int, name: str, kind: str,
                             addresses: Sequence[str], url: str | None,
                             actor: Actor | None = None, now: datetime | None = None,
                             ) -> Channel:
        """Replace the channel's name, kind and target (jobs name channels by name: a
        rename leaves the jobs that chose the old name without it). With an ``actor`` and
        ``now``, "changed" is recorded with the fields that changed (none: no event)."""

    async def delete_channel(self, env_id: int, channel_id: int, actor: Actor | None = None,
                             now: datetime | None = None) -> Channel:
        """Delete the channel (with an ``actor`` and ``now``, "deleted" is recorded)."""


class ExplainStore(Protocol):
    async def runs_from(self, env_id: int, job_id: int, at: datetime, limit: int = 20
                        ) -> tuple[list[Run], datetime | None]:
        """The job's schedule runs (source ``schedule``) whose instant is ``at`` or later,
        oldest first (then by attempt), at most ``limit``; and the instant of the job's
        oldest retained run (None: none). NotFound for a job not in the environment."""


class PingStore(Protocol):
    """Heartbeat jobs' pings (issue 19, ``domain/pings.py``). A ping URL carries no API key:
    the lookups find only jobs of type ``heartbeat``, by their secret ``ping_uuid`` or by
    the environment's secret ``ping_key`` and the job's name."""

    async def ensure_ping_key(self, env_id: int, candidate: str) -> str:
        """The environment's ping key, set to ``candidate`` if it has none yet (once: a
        concurrent call keeps the first). NotFound for a missing environment."""

    async def ping_key(self, env_id: int) -> str | None:
        """The environment's ping key (None: no heartbeat job was ever defined there)."""

    async def find_ping_job(
        self, *, uuid: str | None = None, ping_key: str | None = None, name: str | None = None
    ) -> Job | None:
        """The heartbeat job with this ``uuid``, or named ``name`` in the environment whose
        ping key is ``ping_key``; None for anything else (another type, an unknown secret)."""

    async def record_ping(self, env_id: int, job_id: int, ping: Ping, now: datetime
                          ) -> Run | None:
        """Apply ``ping`` to the job's runs as ``domain/pings.py`` says, in one transaction
        (the waiting and running runs locked): start, end (with the bookkeeping of every end:
        status mirror, alert turns) or log; make the run a ping needs when none waits. The
        run acted on (None: a log ping with no run). NotFound: no heartbeat job of that id in
        the environment."""
