"""Jobs for the tests of runs while they run (issue 21): handlers that run until they are
cancelled, and that write live output. ``E2E_PREFIX`` names the jobs; ``E2E_MARKS`` is a
folder where the handlers leave a file saying how they ended."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from schedo import JobContext, Schedo

app = Schedo()
NEVER = "0 0 1 1 *"
PREFIX = os.environ.get("E2E_PREFIX", "e2e-")
MARKS = Path(os.environ.get("E2E_MARKS", "."))


def mark(ctx: JobContext, how: str) -> None:
    (MARKS / f"{ctx.execution_id}.{how}").write_text(how)


@app.job(f"{PREFIX}async-long", NEVER, timeout=120)
async def async_long(ctx: JobContext) -> str:
    ctx.log("async handler started")
    try:
        await asyncio.sleep(100)
    except asyncio.CancelledError:
        mark(ctx, "async-cancelled")
        raise
    return "never"


@app.job(f"{PREFIX}sync-long", NEVER, timeout=120)
def sync_long(ctx: JobContext) -> str:
    ctx.log("sync handler started")
    for _ in range(1000):
        if ctx.cancelled:
            mark(ctx, "sync-saw-flag")
            ctx.raise_if_cancelled()
        time.sleep(0.05)
    return "never"


@app.job(f"{PREFIX}captures", NEVER, capture_logs=True)
def captures(ctx: JobContext) -> str:
    ctx.log("direct %s", "line")
    logging.getLogger("myapp.db").warning("captured %d rows", 42)
    return "ok"


@app.job(f"{PREFIX}no-capture", NEVER)
async def no_capture(ctx: JobContext) -> str:
    logging.getLogger("myapp.db").warning("not captured")
    ctx.log("only this")
    return "ok"
