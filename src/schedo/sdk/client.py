"""``Client``: typed, synchronous access to every endpoint of SPEC 2.2 (``AsyncClient``, its
asynchronous twin, is in ``async_client.py`` and importable from here too).

Both send the same ``Call`` descriptions (see ``calls.py`` and ``endpoints.py``); only the
transport differs. Non-2xx answers raise an ``ApiError`` subclass; an unreachable server raises
``ConnectionFailed``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from . import admin_endpoints, calls, endpoints
from .calls import Call
from .lazy_tls import LazyTLSTransport
from .models import (
    ApiKey,
    Environment,
    Execution,
    Job,
    JobDetail,
    JobWithConnections,
    Org,
    RunLog,
)
from .transport import _Base, _failed, _request_args, _user_agent

T = TypeVar("T")


class Client(_Base):
    """Synchronous client of the Schedo API (one pooled ``httpx.Client``).

    ``api_key`` and ``base_url`` default to ``SCHEDO_API_KEY`` and ``SCHEDO_BASE_URL``
    (else ``http://127.0.0.1:8000``). ``environment_id`` (admin keys) picks the environment
    with the ``X-API-ENVIRONMENT`` header. Use it as a context manager or call ``close()``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        environment_id: int | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = calls.resolve(api_key, base_url, environment_id, timeout)
        self._http = httpx.Client(
            base_url=self._settings.base_url,
            headers=self._settings.headers(_user_agent()),
            timeout=timeout,
            # TLS is set up only when an https:// URL is first requested
            transport=transport if transport is not None else LazyTLSTransport(),
            follow_redirects=False,
        )

    # -- plumbing ----------------------------------------------------------------------------
    def send(self, call: Call[T]) -> T:
        """Send one ``Call`` and return its parsed answer."""
        try:
            r = self._http.request(call.method, call.path, **_request_args(call))
        except httpx.RequestError as exc:
            raise _failed(self._settings, call, exc) from exc
        return calls.decode(call, r.status_code, r.headers, r.content, r.reason_phrase)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- jobs --------------------------------------------------------------------------------
    def define_job(
        self,
        name: str,
        schedule: str,
        *,
        blocking: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout_seconds: int | None = None,
        webhook_url: str | None = None,
        max_retries: int | None = None,
        timezone: str | None = None,
        catch_up: str | None = None,
        command: str | None = None,
        target: Mapping[str, Any] | None = None,
        jitter_seconds: int | None = None,
        paused_until: str | datetime | None = None,
        skip_next: int | None = None,
        crons: Sequence[str] | None = None,
        overlap: str | None = None,
        max_concurrency: int | None = None,
        alert_after_failures: int | None = None,
        max_duration_seconds: int | None = None,
        success_within_seconds: int | None = None,
        pause_after_failures: int | None = None,
        channels: Sequence[str] | None = None,
        remind_every_seconds: int | None = None,
        after: Mapping[str, Any] | Sequence[str] | None = None,
    ) -> Job:
        """Create or update the job ``name`` (``POST /jobs/definition``). Options left as
        None take the server's defaults (and are not sent). The alert options are the
        definition's alert fields of docs/api.md; ``channels=[]`` names no channel."""
        return self.send(
            endpoints.define_job(
                name,
                schedule,
                blocking=blocking,
                metadata=metadata,
                timeout_seconds=timeout_seconds,
                webhook_url=webhook_url,
                max_retries=max_retries,
                timezone=timezone,
                catch_up=catch_up,
                command=command,
                target=target,
                jitter_seconds=jitter_seconds,
                paused_until=paused_until,
                skip_next=skip_next,
                crons=crons,
                overlap=overlap,
                max_concurrency=max_concurrency,
                alert_after_failures=alert_after_failures,
                max_duration_seconds=max_duration_seconds,
                success_within_seconds=success_within_seconds,
                pause_after_failures=pause_after_failures,
                channels=channels,
                remind_every_seconds=remind_every_seconds,
                after=after,
            )
        )

    def list_jobs(self) -> list[Job]:
        return self.send(endpoints.list_jobs())

    def list_jobs_with_connections(self) -> list[JobWithConnections]:
        return self.send(endpoints.list_jobs_with_connections())

    def get_job(self, job_id: int) -> JobDetail:
        return self.send(endpoints.get_job(job_id))

    def delete_job(self, job_id: int) -> str:
        return self.send(endpoints.delete_job(job_id))

    def connections_count(self, job_id: int) -> int:
        return self.send(endpoints.connections_count(job_id))

    def mute_job(self, job_id: int, muted: bool = True) -> Job:
        return self.send(endpoints.mute_job(job_id, muted))

    def pause_job(self, job_id: int, until: str | datetime | None = None) -> Job:
        """Pause until resumed, or (``until``, an aware datetime or RFC 3339 text) until then:
        the job resumes by itself."""
        return self.send(endpoints.pause_job(job_id, until))

    def backfill_job(
        self, job_id: int, start: str | datetime, end: str | datetime
    ) -> list[Execution]:
        """Runs of every fire instant in [start, end] that has none yet (trigger
        "backfill", at most 1,000 instants); returns the runs created."""
        return self.send(endpoints.backfill_job(job_id, start, end))

    def rerun_execution(self, exec_id: int) -> Execution:
        """The execution's instant again, as its next attempt (trigger "rerun")."""
        return self.send(endpoints.rerun_execution(exec_id))

    def skip_next(self, job_id: int, count: int) -> Job:
        """Record the job's next ``count`` ticks as skipped runs (0 cancels)."""
        return self.send(endpoints.skip_next(job_id, count))

    def resume_job(self, job_id: int) -> Job:
        return self.send(endpoints.resume_job(job_id))

    def trigger_job(self, job_id: int, payload: Mapping[str, Any] | None = None) -> Execution:
        """A run now; ``payload`` (a JSON object, 64 KiB at most) reaches the handler as
        ``ctx.payload``, push bodies as ``payload``, commands as ``$SCHEDO_PAYLOAD``."""
        return self.send(endpoints.trigger_job(job_id, payload))

    def set_webhook(self, job_id: int, url: str | None) -> Job:
        return self.send(endpoints.set_webhook(job_id, url))

    # -- executions --------------------------------------------------------------------------
    def list_executions(
        self, job_id: int, cursor: int | None = None, limit: int = 50
    ) -> list[Execution]:
        """One page of a job's executions, newest first (ids < ``cursor``)."""
        return self.send(endpoints.list_executions(job_id, cursor, limit))

    def iter_executions(self, job_id: int, *, page_size: int = 200) -> Iterator[Execution]:
        """Every execution of a job, newest first, following the cursor page by page."""
        cursor: int | None = None
        while True:
            page = self.list_executions(job_id, cursor, page_size)
            yield from page
            if len(page) < page_size:
                return
            cursor = min(e.id for e in page)

    def complete_execution(
        self,
        execution_id: int,
        success: bool,
        output: str | None = None,
        error: str | None = None,
        start_ms: int | datetime | None = None,
        end_ms: int | datetime | None = None,
        exit_code: int | None = None,
    ) -> Execution:
        """Report the end of a run. Repeating the same report is harmless; a different
        report for a run that already ended raises ``Conflict``."""
        return self.send(
            endpoints.complete_execution(
                execution_id, success, output, error, start_ms, end_ms, exit_code
            )
        )

    def complete_executions(
        self, reports: Sequence[endpoints.Report]
    ) -> list[endpoints.ReportResult]:
        """Many reports in one request and one server transaction (extension)."""
        return self.send(endpoints.complete_executions(reports))

    def pull_executions(
        self,
        jobs: Sequence[str] | str | None,
        wait: float = 25,
        limit: int = 10,
        *,
        worker_id: str | None = None,
        job_type: str | None = None,
    ) -> list[Execution]:
        """Long poll for due runs of ``jobs``; every returned execution is claimed for you.
        ``job_type="command"``: runs of command jobs (every one when ``jobs`` is None)."""
        return self.send(
            endpoints.pull_executions(jobs, wait, limit, worker_id=worker_id, job_type=job_type)
        )

    def cancel_execution(self, execution_id: int, reason: str | None = None) -> Execution:
        """End a pending or running run as ``cancelled`` (extension); its worker or agent is
        told and stops it. ``Conflict`` when it already ended."""
        return self.send(endpoints.cancel_execution(execution_id, reason))

    def watch_cancelled(self, ids: Sequence[int], wait: float = 25) -> list[int]:
        """Which of ``ids`` are cancelled, waiting up to ``wait`` seconds for one (extension)."""
        return self.send(endpoints.watch_cancelled(ids, wait))

    def append_log(
        self, execution_id: int, lines: Sequence[tuple[int | None, str, str]]
    ) -> dict[str, Any]:
        """Add ``(at_ms or None, stream, text)`` lines to a run's live output (extension)."""
        return self.send(endpoints.append_log(execution_id, lines))

    def read_log(self, execution_id: int, after: int = 0, limit: int = 1000) -> RunLog:
        """A run's live output lines after the line id ``after`` (extension)."""
        return self.send(endpoints.read_log(execution_id, after, limit))

    # -- keys, environments, organisation ----------------------------------------------------
    def create_api_key(self, environment_id: int, name: str, scope: str | None = None) -> ApiKey:
        """A new environment key; its full secret is in ``.key`` only in this answer.
        ``scope``: full (default), editor, operator, read or worker (Schedo extension)."""
        return self.send(endpoints.create_api_key(environment_id, name, scope))

    def list_api_keys(self) -> list[ApiKey]:
        return self.send(endpoints.list_api_keys())

    def revoke_api_key(self, key_id: int) -> ApiKey:
        """Revoke a key; returns the revoked key."""
        return self.send(endpoints.revoke_api_key(key_id))

    def create_environment(self, name: str) -> Environment:
        return self.send(endpoints.create_environment(name))

    def list_environments(self) -> list[Environment]:
        return self.send(endpoints.list_environments())

    def delete_environment(self, environment_id: int) -> Environment:
        return self.send(endpoints.delete_environment(environment_id))

    def get_org(self) -> Org:
        return self.send(endpoints.get_org())

    def list_emails(self) -> list[str]:
        return self.send(endpoints.list_emails())

    def add_email(self, address: str) -> list[str]:
        return self.send(endpoints.add_email(address))

    def remove_email(self, address: str) -> list[str]:
        return self.send(endpoints.remove_email(address))

    # -- organisation extensions: signing secret, channels, audit, explanations, chains ------
    def webhook_secret(self, environment_id: int) -> dict[str, Any]:
        """The environment's webhook signing key (admin keys; ``previous_valid_until`` during a
        rotation's overlap)."""
        return self.send(admin_endpoints.webhook_secret(environment_id))

    def rotate_webhook_secret(
        self, environment_id: int, overlap_seconds: int | None = None
    ) -> dict[str, Any]:
        """A new webhook signing key; the old one signs beside it for ``overlap_seconds``
        (0 to 7 days; default 24 h). The new key is in ``webhook_signature_key``."""
        return self.send(admin_endpoints.rotate_webhook_secret(environment_id, overlap_seconds))

    def list_channels(self) -> list[dict[str, Any]]:
        return self.send(admin_endpoints.list_channels())

    def get_channel(self, channel_id: int) -> dict[str, Any]:
        return self.send(admin_endpoints.get_channel(channel_id))

    def create_channel(
        self, name: str, kind: str, *, addresses: Sequence[str] | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """An alert channel: ``kind`` email (``addresses``), webhook or slack (``url``)."""
        return self.send(admin_endpoints.create_channel(name, kind, addresses=addresses, url=url))

    def replace_channel(
        self, channel_id: int, name: str, kind: str, *,
        addresses: Sequence[str] | None = None, url: str | None = None,
    ) -> dict[str, Any]:
        return self.send(admin_endpoints.replace_channel(
            channel_id, name, kind, addresses=addresses, url=url))

    def delete_channel(self, channel_id: int) -> dict[str, Any]:
        return self.send(admin_endpoints.delete_channel(channel_id))

    def list_audit(self, **filters: Any) -> list[dict[str, Any]]:
        """The environment's audit events, newest first; ``filters``: job_id, action,
        actor_key_id, since, until, cursor (the last id of the previous page), limit."""
        return self.send(admin_endpoints.list_audit(**filters))

    def list_notifications(
        self, *, job_id: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        return self.send(admin_endpoints.list_notifications(job_id=job_id, limit=limit))

    def explain_job(self, job_id: int, at: str | int | datetime | None = None) -> dict[str, Any]:
        """Whether the job's schedule fires at ``at`` (default now) and what happened or will
        happen then."""
        return self.send(admin_endpoints.explain_job(job_id, at))

    def job_chain(self, job_id: int) -> dict[str, Any]:
        return self.send(admin_endpoints.job_chain(job_id))

    def run_chain(self, execution_id: int) -> dict[str, Any]:
        return self.send(admin_endpoints.run_chain(execution_id))
