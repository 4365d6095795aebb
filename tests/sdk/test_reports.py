"""The report batcher: one request for reports that finish together; single reports against
a server without the batch route (the hosted API)."""

from __future__ import annotations

import asyncio
import json

import httpx

import schedo
from schedo.sdk.endpoints import Report
from schedo.sdk.reports import ReportBatcher

EXEC = {"id": 0, "job_id": 1, "job_code": "job-a", "status": "completed",
        "scheduled_for": "2026-11-28T12:00:00Z", "attempt": 1, "trigger": "schedule",
        "pick_up_time": None, "start_time": None, "end_time": None, "duration": None,
        "output": None, "error": None, "exit_code": None, "metadata": {}}


def _server(batch_route: bool, seen: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/jobs/executions/complete":
            if not batch_route:
                return httpx.Response(404, json={"message": "Not Found"})
            items = json.loads(request.content)["results"]
            return httpx.Response(200, json=[
                {"id": i["id"], "status": 409, "message": "already ended"} if i["id"] == 3
                else {"id": i["id"], "status": 200, "execution": {**EXEC, "id": i["id"]}}
                for i in items])
        exec_id = int(request.url.path.rsplit("/", 1)[1])
        return httpx.Response(200, json={**EXEC, "id": exec_id})

    return httpx.MockTransport(handle)


async def test_reports_finishing_together_share_one_request() -> None:
    seen: list[str] = []
    client = schedo.AsyncClient("sk_x" * 5, "http://x", transport=_server(True, seen))
    b = ReportBatcher(client)
    results = await asyncio.gather(*(b.submit(Report(i, True)) for i in (1, 2, 3, 4)),
                                   return_exceptions=True)
    assert seen == ["/jobs/executions/complete"]
    assert [getattr(r, "id", None) for r in results] == [1, 2, None, 4]
    assert isinstance(results[2], schedo.Conflict)
    await client.aclose()


async def test_server_without_batch_route_gets_single_reports() -> None:
    seen: list[str] = []
    client = schedo.AsyncClient("sk_x" * 5, "http://x", transport=_server(False, seen))
    b = ReportBatcher(client)
    results = await asyncio.gather(*(b.submit(Report(i, True)) for i in (1, 2)))
    assert [r.id for r in results] == [1, 2]
    await b.submit(Report(5, True))
    assert seen[0] == "/jobs/executions/complete"
    assert sorted(seen[1:]) == ["/jobs/executions/complete/1", "/jobs/executions/complete/2",
                                "/jobs/executions/complete/5"]
    await client.aclose()
