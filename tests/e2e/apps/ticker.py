"""A job every second (six-field cron), for the exactly-once test."""

from __future__ import annotations

import os

from schedo import JobContext, Schedo

app = Schedo(concurrency=4)
JOB = os.environ.get("E2E_TICKER_JOB", "e2e-every-second")


@app.job(JOB, "* * * * * *", timeout=10)
def tick(ctx: JobContext) -> str:
    return f"tick {ctx.scheduled_for:%H:%M:%S} by {os.getpid()}"
