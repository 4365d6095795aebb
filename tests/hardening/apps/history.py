"""Crash-test worker: HISTORY_JOBS jobs every second; each run appends one JSON line to
HISTORY_FILE (what this worker saw), written with a single O_APPEND write so lines from
several workers and threads never interleave, before the handler returns."""

from __future__ import annotations

import json
import os
import time

from schedo import JobContext, Schedo

app = Schedo(concurrency=int(os.environ.get("HISTORY_CONCURRENCY", "20")))
PATH = os.environ["HISTORY_FILE"]
FD = os.open(PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def handler(ctx: JobContext) -> str:
    line = json.dumps({
        "id": ctx.execution_id, "job": ctx.job_code, "attempt": ctx.attempt,
        "scheduled_for": ctx.scheduled_for.isoformat(), "pid": os.getpid(), "t": time.time(),
    }) + "\n"
    os.write(FD, line.encode())
    return "ok"


for i in range(int(os.environ.get("HISTORY_JOBS", "10"))):
    app.job(f"crash-{i:02d}", "* * * * * *", timeout=10)(handler)
