"""One job for the outage test: it takes ``E2E_OUTAGE_SECONDS`` and returns a result the test
recognises. Its schedule is far away; the test triggers it by hand."""

from __future__ import annotations

import os
import time

from schedo import JobContext, Schedo

app = Schedo()
NAME = os.environ.get("E2E_OUTAGE_JOB", "e2e-outage")
SECONDS = float(os.environ.get("E2E_OUTAGE_SECONDS", "2"))


@app.job(NAME, "0 0 1 1 *", timeout=5)
def work(ctx: JobContext) -> str:
    time.sleep(SECONDS)
    return f"result of execution {ctx.execution_id}"
