"""Three chained jobs (issue 21): extract runs when triggered; transform after extract; load
after extract and transform (``E2E_FAN_IN=1``, a fan-in) or after transform alone."""

from __future__ import annotations

import os

from schedo import JobContext, Schedo

app = Schedo(concurrency=8)
P = os.environ.get("E2E_PREFIX", "e2e-chain-")
LOAD_AFTER = [f"{P}extract", f"{P}transform"] if os.environ.get("E2E_FAN_IN") == "1" else [
    f"{P}transform"]


# declared downstream first: the worker defines the upstream jobs before it
@app.job(f"{P}load", after=LOAD_AFTER, timeout=20)
def load(ctx: JobContext) -> str:
    return f"load {ctx.execution_id} ({ctx.trigger}) by {os.getpid()}"


@app.job(f"{P}transform", after=[f"{P}extract"], timeout=20)
def transform(ctx: JobContext) -> str:
    return f"transform {ctx.execution_id} ({ctx.trigger}) by {os.getpid()}"


@app.job(f"{P}extract", "@never", timeout=20)
def extract(ctx: JobContext) -> str:
    return f"extract {ctx.execution_id} by {os.getpid()}"
