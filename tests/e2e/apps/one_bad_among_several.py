"""Two good jobs, then one whose schedule, time zone and timeout are all bad: the worker must
report the three at once and define none of the jobs (not even the good ones before it).
``E2E_PREFIX`` keeps the job names of one test apart from another's on a shared server."""

from __future__ import annotations

import os

from schedo import JobContext, Schedo

app = Schedo()
NEVER = "0 0 1 1 *"
PREFIX = os.environ.get("E2E_PREFIX", "e2e-")


@app.job(f"{PREFIX}first", NEVER)
def first(ctx: JobContext) -> str:
    return "first"


@app.job(f"{PREFIX}second", NEVER)
def second(ctx: JobContext) -> str:
    return "second"


@app.job(f"{PREFIX}bad", "0 24 * * *", timezone="Mars/Olympus", timeout=0)
def bad(ctx: JobContext) -> None:
    raise AssertionError("must not run")
