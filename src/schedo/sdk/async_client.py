"""``AsyncClient``: the asynchronous twin of ``Client`` (see ``client.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from . import admin_endpoints, calls, endpoints
from .calls import Call
from .lazy_tls import LazyTLSAsyncTransport
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
URL_CACHE_SIZE = 32  # absolute URLs with their query, kept (pulls: one per limit and wait)


class AsyncClient(_Base):
    """The asynchronous twin of ``Client`` (one pooled ``httpx.AsyncClient``); every method
    is a coroutine, ``iter_executions`` an async iterator."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        environment_id: int | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = calls.resolve(api_key, base_url, environment_id, timeout)
        self._urls: dict[tuple[str, tuple[tuple[str, Any], ...]], httpx.URL] = {}
        self._http = httpx.AsyncClient(
            base_url=self._settings.base_url,
            headers=self._settings.headers(_user_agent()),
            timeout=timeout,
            # TLS is set up only when an https:// URL is first requested
            transport=transport if transport is not None else LazyTLSAsyncTransport(),
            follow_redirects=False,
        )

    async def send(self, call: Call[T]) -> T:
        args = _request_args(call)
        url: httpx.URL | str = call.path
        if call.params:
            url = self._url_with(call.path, args.pop("params"))
        try:
            r = await self._http.request(call.method, url, **args)
        except httpx.RequestError as exc:
            raise _failed(self._settings, call, exc) from exc
        return calls.decode(call, r.status_code, r.headers, r.content, r.reason_phrase)

    def _url_with(self, path: str, params: dict[str, Any]) -> httpx.URL:
        """The absolute URL of ``path?params``, built once: a worker's pull names thousands
        of job codes (~30 KB of query), and httpx would encode and parse it again at every
        pull (a third of a worker's CPU in a herd). A few recent URLs are kept."""
        key = (path, tuple(params.items()))
        url = self._urls.pop(key, None)
        if url is None:
            url = self._http.build_request("GET", path, params=params).url
            if len(self._urls) >= URL_CACHE_SIZE:
                del self._urls[next(iter(self._urls))]  # the least recently used
        self._urls[key] = url
        return url

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- jobs --------------------------------------------------------------------------------
    async def define_job(
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
        return await self.send(
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

    async def list_jobs(self) -> list[Job]:
        return await self.send(endpoints.list_jobs())

    async def list_jobs_with_connections(self) -> list[JobWithConnections]:
        return await self.send(endpoints.list_jobs_with_connections())

    async def get_job(self, job_id: int) -> JobDetail:
        return await self.send(endpoints.get_job(job_id))

    async def delete_job(self, job_id: int) -> str:
        return await self.send(endpoints.delete_job(job_id))

    async def connections_count(self, job_id: int) -> int:
        return await self.send(endpoints.connections_count(job_id))

    async def mute_job(self, job_id: int, muted: bool = True) -> Job:
        return await self.send(endpoints.mute_job(job_id, muted))

    async def pause_job(self, job_id: int, until: str | datetime | None = None) -> Job:
        return await self.send(endpoints.pause_job(job_id, until))

    async def backfill_job(
        self, job_id: int, start: str | datetime, end: str | datetime
    ) -> list[Execution]:
        return await self.send(endpoints.backfill_job(job_id, start, end))

    async def rerun_execution(self, exec_id: int) -> Execution:
        return await self.send(endpoints.rerun_execution(exec_id))

    async def skip_next(self, job_id: int, count: int) -> Job:
        return await self.send(endpoints.skip_next(job_id, count))

    async def resume_job(self, job_id: int) -> Job:
        return await self.send(endpoints.resume_job(job_id))

    async def trigger_job(
        self, job_id: int, payload: Mapping[str, Any] | None = None
    ) -> Execution:
        return await self.send(endpoints.trigger_job(job_id, payload))

    async def set_webhook(self, job_id: int, url: str | None) -> Job:
        return await self.send(endpoints.set_webhook(job_id, url))

    # -- executions --------------------------------------------------------------------------
    async def list_executions(
        self, job_id: int, cursor: int | None = None, limit: int = 50
    ) -> list[Execution]:
        return await self.send(endpoints.list_executions(job_id, cursor, limit))

    async def iter_executions(
        self, job_id: int, *, page_size: int = 200
    ) -> AsyncIterator[Execution]:
        cursor: int | None = None
        while True:
            page = await self.list_executions(job_id, cursor, page_size)
            for e in page:
                yield e
            if len(page) < page_size:
                return
            cursor = min(e.id for e in page)

    async def complete_execution(
        self,
        execution_id: int,
        success: bool,
        output: str | None = None,
        error: str | None = None,
        start_ms: int | datetime | None = None,
        end_ms: int | datetime | None = None,
        exit_code: int | None = None,
    ) -> Execution:
        return await self.send(
            endpoints.complete_execution(
                execution_id, success, output, error, start_ms, end_ms, exit_code
            )
        )

    async def complete_executions(
        self, reports: Sequence[endpoints.Report]
    ) -> list[endpoints.ReportResult]:
        """Many reports in one request and one server transaction (extension)."""
        return await self.send(endpoints.complete_executions(reports))

    async def pull_executions(
        self,
        jobs: Sequence[str] | str | None,
        wait: float = 25,
        limit: int = 10,
        *,
        worker_id: str | None = None,
        job_type: str | None = None,
        agent_host: str | None = None,
        agent_tags: Sequence[str] = (),
    ) -> list[Execution]:
        return await self.send(
            endpoints.pull_executions(jobs, wait, limit, worker_id=worker_id, job_type=job_type,
                                      agent_host=agent_host, agent_tags=agent_tags)
        )

    async def cancel_execution(self, execution_id: int, reason: str | None = None) -> Execution:
        return await self.send(endpoints.cancel_execution(execution_id, reason))

    async def watch_cancelled(self, ids: Sequence[int], wait: float = 25) -> list[int]:
        return await self.send(endpoints.watch_cancelled(ids, wait))

    async def append_log(
        self, execution_id: int, lines: Sequence[tuple[int | None, str, str]]
    ) -> dict[str, Any]:
        return await self.send(endpoints.append_log(execution_id, lines))

    async def read_log(self, execution_id: int, after: int = 0, limit: int = 1000) -> RunLog:
        return await self.send(endpoints.read_log(execution_id, after, limit))

    # -- keys, environments, organisation ----------------------------------------------------
    async def create_api_key(
        self, environment_id: int, name: str, scope: str | None = None
    ) -> ApiKey:
        return await self.send(endpoints.create_api_key(environment_id, name, scope))

    async def list_api_keys(self) -> list[ApiKey]:
        return await self.send(endpoints.list_api_keys())

    async def revoke_api_key(self, key_id: int) -> ApiKey:
        return await self.send(endpoints.revoke_api_key(key_id))

    async def create_environment(self, name: str) -> Environment:
        return await self.send(endpoints.create_environment(name))

    async def list_environments(self) -> list[Environment]:
        return await self.send(endpoints.list_environments())

    async def delete_environment(self, environment_id: int) -> Environment:
        return await self.send(endpoints.delete_environment(environment_id))

    async def get_org(self) -> Org:
        return await self.send(endpoints.get_org())

    async def list_emails(self) -> list[str]:
        return await self.send(endpoints.list_emails())

    async def add_email(self, address: str) -> list[str]:
        return await self.send(endpoints.add_email(address))

    async def remove_email(self, address: str) -> list[str]:
        return await self.send(endpoints.remove_email(address))

    # -- organisation extensions: signing secret, channels, audit, explanations, chains ------
    async def webhook_secret(self, environment_id: int) -> dict[str, Any]:
        return await self.send(admin_endpoints.webhook_secret(environment_id))

    async def rotate_webhook_secret(
        self, environment_id: int, overlap_seconds: int | None = None
    ) -> dict[str, Any]:
        return await self.send(admin_endpoints.rotate_webhook_secret(
            environment_id, overlap_seconds))

    async def list_channels(self) -> list[dict[str, Any]]:
        return await self.send(admin_endpoints.list_channels())

    async def get_channel(self, channel_id: int) -> dict[str, Any]:
        return await self.send(admin_endpoints.get_channel(channel_id))

    async def create_channel(
        self, name: str, kind: str, *, addresses: Sequence[str] | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        return await self.send(admin_endpoints.create_channel(
            name, kind, addresses=addresses, url=url))

    async def replace_channel(
        self, channel_id: int, name: str, kind: str, *,
        addresses: Sequence[str] | None = None, url: str | None = None,
    ) -> dict[str, Any]:
        return await self.send(admin_endpoints.replace_channel(
            channel_id, name, kind, addresses=addresses, url=url))

    async def delete_channel(self, channel_id: int) -> dict[str, Any]:
        return await self.send(admin_endpoints.delete_channel(channel_id))

    async def list_audit(self, **filters: Any) -> list[dict[str, Any]]:
        return await self.send(admin_endpoints.list_audit(**filters))

    async def list_notifications(
        self, *, job_id: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        return await self.send(admin_endpoints.list_notifications(job_id=job_id, limit=limit))

    async def explain_job(
        self, job_id: int, at: str | int | datetime | None = None
    ) -> dict[str, Any]:
        return await self.send(admin_endpoints.explain_job(job_id, at))

    async def job_chain(self, job_id: int) -> dict[str, Any]:
        return await self.send(admin_endpoints.job_chain(job_id))

    async def run_chain(self, execution_id: int) -> dict[str, Any]:
        return await self.send(admin_endpoints.run_chain(execution_id))
