"""The push dispatcher: delivers each due run of a push job to its webhook (SPEC 2.4).

It claims due push executions (the same atomic claim as workers), POSTs the signed JSON body
through the one outbound client (address guard, no redirects, timeouts, capped response),
and records the outcome: any 2xx completes the run (output = the first 64 KiB of the
response), 202 leaves it running for the receiver to complete through the API, anything else
fails it with the status and an excerpt of the body. Retries follow SPEC 3 (the reaper and
``complete`` create them) and carry the same ``webhook-id``: one id per tick.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from ..domain.errors import Conflict, NotFound
from ..domain.records import Completion, Run
from ..domain.timefmt import rfc3339, to_ms
from ..runtime.loop import run_loop, seconds_until
from ..services import push, runs
from ..services.context import Services
from . import signed
from .http import DeliveryResult, OutboundClient

log = logging.getLogger("schedo.push")
MAX_IDLE = 30.0
ERROR_EXCERPT = 512
LOCKED_ELSEWHERE_WAIT = 0.05  # due but not claimable here (locked by another process)


def webhook_id(ex: Run) -> str:
    """Stable across the retries of one tick (Standard Webhooks idempotency key)."""
    return f"msg_{ex.job_id}_{ex.source}_{to_ms(ex.scheduled_for)}"


def payload(ex: Run) -> dict[str, Any]:
    body = {
        "execution_id": ex.id,
        "job_id": ex.job_id,
        "job_code": ex.job_code,
        "scheduled_for": rfc3339(ex.scheduled_for),
        "attempt": ex.attempt,
        "metadata": ex.metadata,
        "environment_id": ex.environment_id,
    }
    if ex.payload is not None:  # ext: what a manual trigger carried (absent without one)
        body["payload"] = ex.payload
    return body


def outcome(res: DeliveryResult) -> Completion | None:
    """The completion a delivery result means; None for 202 (the receiver completes later)."""
    text = res.body.decode("utf-8", "replace")
    if res.status is None:
        return Completion(success=False, error=res.error or "delivery failed")
    if res.status == 202:
        return None
    if 200 <= res.status < 300:
        return Completion(success=True, output=text or None)
    excerpt = text[:ERROR_EXCERPT]
    return Completion(
        success=False,
        output=text or None,
        error=f"webhook answered HTTP {res.status}" + (f": {excerpt}" if excerpt else ""),
    )


class Dispatcher:
    def __init__(self, svc: Services, client: OutboundClient | None = None,
                 max_in_flight: int = 100) -> None:
        self.svc = svc
        self.client = client or OutboundClient(svc.settings.allow_private_webhooks,
                                               max_in_flight=max_in_flight)
        self.max_in_flight = max_in_flight
        self.in_flight: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()

    async def dispatch_once(self, now: datetime) -> list[asyncio.Task[None]]:
        """Claim what is due and start its deliveries; return the started tasks."""
        free = self.max_in_flight - len(self.in_flight)
        if free <= 0:
            return []
        started = []
        for claimed in await push.claim_due(self.svc, now, free):
            task = asyncio.create_task(self.deliver(claimed.run, claimed.url, claimed.secret,
                                                    claimed.previous))
            self.in_flight.add(task)
            task.add_done_callback(self._done)
            started.append(task)
        return started

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self._slot_freed.set()

    async def deliver(self, ex: Run, url: str | None, secret: str, previous: str = "") -> None:
        if not url:
            await self._record(ex, Completion(success=False, error="job has no webhook_url"))
            return
        if not secret:  # sealed with another secret key (storage logged sealing.unseal_failed)
            await self._record(ex, Completion(
                success=False, error="not sent: this server cannot unseal the environment's "
                "webhook signature key (see docs/hardening.md, Secrets at rest)"))
            return
        res = await signed.post(
            self.client, url, payload(ex), secret=secret, message_id=webhook_id(ex),
            now=self.svc.clock.now(), timeout=float(ex.timeout_seconds), previous=previous,
        )
        log.info("push.delivered execution=%s job=%s status=%s error=%s duration_ms=%s",
                 ex.id, ex.job_code, res.status, res.error, res.duration_ms)
        done = outcome(res)
        if done is not None:
            await self._record(ex, done)

    async def _record(self, ex: Run, report: Completion) -> None:
        try:
            await runs.complete_one(self.svc, ex.environment_id, ex.id, report)
        except (Conflict, NotFound) as exc:  # expired meanwhile, or the job was deleted
            log.info("push.report_refused execution=%s reason=%s", ex.id, exc)

    async def step(self) -> float | None:
        """One pass of the loop: start what is due; return in how many seconds to look again
        (None: nothing is due)."""
        started = await self.dispatch_once(self.svc.clock.now())
        due_in = seconds_until(self.svc.clock, await push.next_due(self.svc))
        if len(self.in_flight) >= self.max_in_flight:
            self._slot_freed.clear()
            await self._slot_freed.wait()
            return 0.0
        if due_in is not None and due_in <= 0 and not started:
            return LOCKED_ELSEWHERE_WAIT
        return due_in

    async def run(self) -> None:
        try:
            await run_loop(self.step, self.svc.bus.runs_ready, max_idle=MAX_IDLE,
                           name="push.error", log=log)
        finally:
            for t in list(self.in_flight):
                t.cancel()
            await self.client.aclose()
