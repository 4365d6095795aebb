"""Jobs that fail, hang, return objects or take a while; the tests trigger them by hand
(their schedules are far away: 1 January at 00:00). ``E2E_PREFIX`` keeps the job names of
one test apart from another's on a shared server."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from schedo import JobContext, Schedo

app = Schedo()
NEVER = "0 0 1 1 *"
PREFIX = os.environ.get("E2E_PREFIX", "e2e-")
SLOW_SECONDS = float(os.environ.get("E2E_SLOW_SECONDS", "3"))


@app.job(f"{PREFIX}raises", NEVER)
def raises(ctx: JobContext) -> None:
    raise ValueError(f"boom in execution {ctx.execution_id}")


@app.job(f"{PREFIX}hangs-sync", NEVER, timeout=2)
def hangs_sync(ctx: JobContext) -> str:
    time.sleep(60)  # the worker reports the timeout and leaves this thread behind
    return "never"


@app.job(f"{PREFIX}hangs-async", NEVER, timeout=1.5)
async def hangs_async(ctx: JobContext) -> str:
    await asyncio.sleep(60)  # cancelled by the worker at its timeout
    return "never"


@app.job(f"{PREFIX}returns-dict", NEVER, metadata={"team": "data"})
async def returns_dict(ctx: JobContext) -> dict[str, Any]:
    return {"rows": 123, "attempt": ctx.attempt, "meta": ctx.metadata}


@app.job(f"{PREFIX}slow", NEVER, timeout=60)
def slow(ctx: JobContext) -> str:
    ctx.log.info("sleeping %.1fs", SLOW_SECONDS)
    time.sleep(SLOW_SECONDS)
    return f"slept {SLOW_SECONDS:g}s"
