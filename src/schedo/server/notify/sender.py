"""The notifier loop: fan out new notifications, then send due deliveries (SPEC 4).

``send_once(now)`` first fans every new notification out into deliveries (one per address on
the organisation's email list at that moment, plus ``SCHEDO_NOTIFY_WEBHOOK_URL`` if set), then
claims due deliveries a few at a time and sends them concurrently (at most ``CONCURRENCY``).

Exactly once, as far as it can be: a claim is a lease (``LEASE_SECONDS``) taken in the same
statement that selects the rows (SKIP LOCKED on PostgreSQL), so two server processes never
send the same delivery; a process that dies mid-send leaves the delivery pending, and it is
retried when the lease ends. Only as many deliveries are claimed as can start at once, and
every send is bounded (SMTP timeout at most 60 s, webhook 15 s, a hard cap of half the
lease), so a lease never runs out under a send that is still in progress.

Retries: a failed try is retried after 30 s, doubling (1 min, 2 min, … capped at 1 h), up to
``MAX_TRIES`` (10) tries, about 3 hours in all; then the delivery is ``failed`` with the last
error. A permanent failure (SMTP 5xx for the recipient or the message, a webhook 4xx)
fails that delivery at once and never blocks the other addresses of the list. A delivery
whose notification is more than 24 hours old when its turn comes (say the server was down
for a day) is ``skipped`` rather than sent as stale news.

No SMTP server configured (``SCHEDO_SMTP_URL`` unset): the notification is still recorded and
listed (GET /org/notifications, the dashboard), and each email delivery is marked
``skipped`` with the reason "SMTP not configured". They are *not* kept pending for a server
configured later: a mail is only useful while it is news, and configuring SMTP days later
should not flush a backlog of stale, contradicting "failing" / "recovered" mails to everyone.
They are not ``failed`` either: nothing was tried. Every server process sharing a database
should have the same SMTP settings (the one without them would skip what it claims).

``run()`` is the background loop. No bus signal announces a new notification (they are
written by run completion and by the reaper), so it checks for work with one cheap read on
partial indexes every ``POLL_SECONDS`` (2 s), and sleeps at most until the next due retry;
``bus.deadlines_changed`` (a failed run) wakes it early.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from ..domain.errors import NotFound
from ..domain.model import ChannelKind
from ..push.http import OutboundClient
from ..runtime.loop import run_loop, seconds_until
from ..services import notifications as outbox
from ..services import secrets
from ..services.context import Services
from ..services.notifications import DueDelivery
from . import Outcome, render, slack, smtp, webhook

log = logging.getLogger("schedo.notify")

MAX_TRIES = 10
FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
LEASE_SECONDS = 120.0
CONCURRENCY = 8
POLL_SECONDS = 2.0
MIN_WAIT = 0.05
SMTP_MISSING = "SMTP not configured (SCHEDO_SMTP_URL is not set)"
MAX_AGE = timedelta(hours=24)
STALE = "not sent: the news is more than 24 hours old"


def retry_delay(tries: int) -> float:
    """Seconds before the next try after ``tries`` failed ones: 30, 60, 120, … capped at 1 h."""
    return min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * (1 << min(max(0, tries - 1), 20)))


class Notifier:
    def __init__(
        self,
        svc: Services,
        client: OutboundClient | None = None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        """Raises ValueError at start-up for a malformed ``SCHEDO_SMTP_URL``."""
        self.svc = svc
        self.smtp = parse(svc.settings.smtp_url)
        self.concurrency = max(1, concurrency)
        self._client = client
        self._own_client = client is None

    @property
    def client(self) -> OutboundClient:
        if self._client is None:
            self._client = OutboundClient(self.svc.settings.allow_private_webhooks)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    # -- one pass --------------------------------------------------------------------------
    async def send_once(self, now: datetime) -> int:
        """Fan out new notifications, then handle every delivery due at ``now``; returns how
        many deliveries were handled (sent, retried later, failed or skipped)."""
        svc = self.svc
        fanned = await outbox.fan_out(svc, now)
        if fanned:
            log.info("notify.fanned_out count=%d", fanned)
        handled = 0
        while True:
            due = await outbox.claim_due(svc, now, self.concurrency, LEASE_SECONDS)
            if not due:
                break
            await asyncio.gather(*(self._handle(d) for d in due))
            handled += len(due)
        return handled

    async def _handle(self, d: DueDelivery) -> None:
        dv, n = d.delivery, d.notification
        svc, now = self.svc, self.svc.clock.now()
        if dv.channel == ChannelKind.EMAIL and self.smtp is None:
            await outbox.mark_skipped(svc, dv.id, SMTP_MISSING)
            log.info("notify.skipped delivery=%s notification=%s reason=no_smtp", dv.id, n.id)
            return
        if now - n.created_at > MAX_AGE:  # e.g. the server was down for days
            await outbox.mark_skipped(svc, dv.id, STALE)
            log.info("notify.skipped delivery=%s notification=%s reason=stale", dv.id, n.id)
            return
        if dv.tries > MAX_TRIES:  # the process died during the last try (lease ran out)
            await outbox.mark_failed(svc, dv.id, f"gave up after {MAX_TRIES} tries")
            return
        try:
            result = await asyncio.wait_for(self._send(d), LEASE_SECONDS / 2)
        except TimeoutError:
            result = Outcome(False, f"no answer within {LEASE_SECONDS / 2:g}s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not wedge the delivery: retry it later
            log.exception("notify.error delivery=%s", dv.id)
            result = Outcome(False, f"internal error: {type(exc).__name__}: {exc}")
        now = self.svc.clock.now()
        if result.ok:
            await outbox.mark_sent(svc, dv.id, now)
            log.info(
                "notify.sent delivery=%s notification=%s channel=%s kind=%s tries=%d",
                dv.id,
                n.id,
                dv.channel,
                n.kind,
                dv.tries,
            )
            return
        error = result.error or "delivery failed"
        if result.permanent or dv.tries >= MAX_TRIES:
            if not result.permanent:
                error = f"gave up after {dv.tries} tries: {error}"
            await outbox.mark_failed(svc, dv.id, error)
            log.warning(
                "notify.failed delivery=%s notification=%s channel=%s error=%r",
                dv.id,
                n.id,
                dv.channel,
                error,
            )
            return
        later = now + timedelta(seconds=retry_delay(dv.tries))
        await outbox.mark_retry(svc, dv.id, error, later)
        log.info(
            "notify.retry delivery=%s notification=%s channel=%s tries=%d at=%s error=%r",
            dv.id,
            n.id,
            dv.channel,
            dv.tries,
            later.isoformat(),
            error,
        )

    async def _send(self, d: DueDelivery) -> Outcome:
        dv, n = d.delivery, d.notification
        settings = self.svc.settings
        if dv.channel == ChannelKind.EMAIL:
            assert self.smtp is not None
            mail = render.render(n, d.environment_name, settings.public_url)
            msg = render.message(mail, n, sender=settings.mail_from, recipient=dv.target)
            return await smtp.send(self.smtp, msg, settings.mail_from, dv.target)
        if dv.channel == ChannelKind.WEBHOOK:
            try:
                secret = await outbox.signing_key(self.svc, n)
            except NotFound:
                return Outcome(False, "environment deleted: no key to sign with", True)
            if not secret:  # did not unseal (storage logged why)
                return Outcome(False, "not sent: this server cannot unseal the environment's "
                               "webhook signature key", True)
            return await webhook.deliver(
                self.client,
                dv.target,
                n,
                secret=secret,
                public_url=settings.public_url,
                now=self.svc.clock.now(),
                previous=await secrets.previous_key(self.svc, n.environment_id),
            )
        if dv.channel == ChannelKind.SLACK:
            return await slack.deliver(self.client, dv.target, n,
                                       public_url=settings.public_url)
        return Outcome(False, f"unknown channel {dv.channel!r}", True)

    # -- the loop ----------------------------------------------------------------------------
    async def step(self) -> float | None:
        """One pass of the loop: send what is due; return in how many seconds the next
        delivery is due (None: none is pending)."""
        work = await outbox.work(self.svc)
        now = self.svc.clock.now()
        nxt = work.next_attempt_at
        if work.unfanned or (nxt is not None and nxt <= now):
            await self.send_once(now)
            work = await outbox.work(self.svc)
        due_in = seconds_until(self.svc.clock, work.next_attempt_at)
        return None if due_in is None else max(MIN_WAIT, due_in)

    async def run(self) -> None:
        try:
            await run_loop(self.step, self.svc.bus.deadlines_changed, max_idle=POLL_SECONDS,
                           name="notify.loop_error", log=log)
        finally:
            await self.aclose()


def parse(url: str | None) -> smtp.SmtpConfig | None:
    """The SMTP settings, or None when ``SCHEDO_SMTP_URL`` is unset or blank."""
    if url is None or not url.strip():
        return None
    return smtp.parse_smtp_url(url)
