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
import json
import logging
from datetime import datetime
from typing import Any

from ...webhooks import sign
from ..domain.errors import Conflict, NotFound
from ..domain.model import JobType
from ..domain.records import Completion, Execution
from ..domain.timefmt import rfc3339, to_ms
from ..services.context import Services
from .http import DeliveryResult, OutboundClient

log = logging.getLogger("schedo.push")
PUSH_TYPES = (JobType.PUSH.value,)
MAX_IDLE = 30.0
ERROR_EXCERPT = 512


def webhook_id(ex: Execution) -> str:
    """Stable across the retries of one tick (Standard Webhooks idempotency key)."""
    return f"msg_{ex.job_id}_{ex.source}_{to_ms(ex.scheduled_for)}"


def payload(ex: Execution) -> bytes:
    body: dict[str, Any] = {
        "execution_id": ex.id,
        "job_id": ex.job_id,
        "job_code": ex.job_code,
        "scheduled_for": rfc3339(ex.scheduled_for),
        "attempt": ex.attempt,
        "metadata": ex.metadata,
        "environment_id": ex.environment_id,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


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
        claimed = await self.svc.store.claim_any(PUSH_TYPES, now, free)
        started = []
        for ex, url, secret in claimed:
            task = asyncio.create_task(self.deliver(ex, url, secret))
            self.in_flight.add(task)
            task.add_done_callback(self._done)
            started.append(task)
        if claimed:
            self.svc.bus.deadlines_changed.notify()
        return started

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self._slot_freed.set()

    async def deliver(self, ex: Execution, url: str | None, secret: str) -> None:
        if not url:
            await self._record(ex, Completion(success=False, error="job has no webhook_url"))
            return
        if not secret:  # sealed with another secret key (storage logged sealing.unseal_failed)
            await self._record(ex, Completion(
                success=False, error="not sent: this server cannot unseal the environment's "
                "webhook signature key (see docs/hardening.md, Secrets at rest)"))
            return
        body = payload(ex)
        headers = {"content-type": "application/json",
                   **sign(body, secret, webhook_id(ex), int(self.svc.clock.now().timestamp()))}
        res = await self.client.post(url, body, headers, timeout=float(ex.timeout_seconds))
        log.info("push.delivered execution=%s job=%s status=%s error=%s duration_ms=%s",
                 ex.id, ex.job_code, res.status, res.error, res.duration_ms)
        done = outcome(res)
        if done is not None:
            await self._record(ex, done)

    async def _record(self, ex: Execution, report: Completion) -> None:
        try:
            _, changed = await self.svc.store.complete(
                ex.environment_id, ex.id, report, self.svc.clock.now()
            )
        except (Conflict, NotFound) as exc:  # expired meanwhile, or the job was deleted
            log.info("push.report_refused execution=%s reason=%s", ex.id, exc)
            return
        if changed and not report.success:
            self.svc.bus.runs_ready.notify()
            self.svc.bus.deadlines_changed.notify()

    async def run(self) -> None:
        clock, bus = self.svc.clock, self.svc.bus
        try:
            while True:
                seen = bus.runs_ready.version
                try:
                    started = await self.dispatch_once(clock.now())
                    nxt = await self.svc.store.earliest_due_of_types(PUSH_TYPES)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("push.error")
                    await asyncio.sleep(1.0)
                    continue
                if len(self.in_flight) >= self.max_in_flight:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                    continue
                timeout = MAX_IDLE
                if nxt is not None:
                    timeout = min(MAX_IDLE, max(0.0, (nxt - clock.now()).total_seconds()))
                if timeout <= 0 and not started:
                    timeout = 0.05  # due but not claimable here (locked by another process)
                if timeout > 0:
                    await bus.runs_ready.wait(timeout, seen)
        finally:
            for t in list(self.in_flight):
                t.cancel()
            await self.client.aclose()
