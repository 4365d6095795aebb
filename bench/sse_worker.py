"""A minimal SSE worker for the precision benchmark: the SDK worker only long-polls, so this
one claims through ``GET /jobs/executions/sse`` and reports each run at once through the batch
endpoint ``POST /jobs/executions/complete``. It notes when each event arrived.

    python -m bench.sse_worker --jobs CODE --seconds 70 --out received.json

Runs for ``--seconds`` (bounded) or until SIGTERM, then writes ``{"received": [[execution_id,
scheduled_for, received_at], ...], "errors": [...]}`` (received_at in epoch seconds) to
``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx


async def main(code: str, seconds: float) -> dict[str, Any]:
    key, base = os.environ["SCHEDO_API_KEY"], os.environ["SCHEDO_BASE_URL"]
    received: list[list[Any]] = []
    reports: set[asyncio.Task[None]] = set()
    errors: list[str] = []
    headers = {"x-api-key": key, "x-schedo-worker-id": f"bench-sse-{uuid.uuid4()}"}
    timeout = httpx.Timeout(10.0, read=60.0)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout) as client:

        async def report(exec_id: int, start_ms: int) -> None:
            body = {
                "results": [
                    {
                        "id": exec_id,
                        "success": True,
                        "start_server_time_utc": start_ms,
                        "complete_server_time_utc": int(time.time() * 1000),
                    }
                ]
            }
            r = await client.post("/jobs/executions/complete", json=body)
            if r.status_code != 200 or r.json()[0]["status"] != 200:
                errors.append(f"report {exec_id}: {r.status_code} {r.text[:200]}")

        async def consume() -> None:
            params: dict[str, str | int] = {"jobs": code, "limit": 10}
            async with client.stream("GET", "/jobs/executions/sse", params=params) as resp:
                resp.raise_for_status()
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    now = time.time()
                    ev = json.loads(line[5:])
                    received.append([ev["id"], ev["scheduled_for"], now])
                    t = asyncio.create_task(report(int(ev["id"]), int(now * 1000)))
                    reports.add(t)
                    t.add_done_callback(reports.discard)

        task = asyncio.create_task(consume())
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await asyncio.wait({task}, timeout=seconds)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except httpx.HTTPError as exc:
            errors.append(f"stream: {exc!r}")
        if reports:
            await asyncio.wait(reports, timeout=10)
    return {"received": received, "errors": errors}


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--jobs", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    a.out.write_text(json.dumps(asyncio.run(main(a.jobs, a.seconds))))


if __name__ == "__main__":
    cli()
