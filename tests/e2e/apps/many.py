"""N jobs every second (scale-out test): E2E_MANY_JOBS of them, named many-000, many-001, …"""

from __future__ import annotations

import os

from schedo import JobContext, Schedo

app = Schedo(concurrency=int(os.environ.get("E2E_MANY_CONCURRENCY", "50")))


def handler(ctx: JobContext) -> str:
    return f"{ctx.job_code}@{ctx.scheduled_for:%H:%M:%S}"


for i in range(int(os.environ.get("E2E_MANY_JOBS", "200"))):
    app.job(f"many-{i:03d}", os.environ.get("E2E_MANY_SCHEDULE", "* * * * * *"),
            timeout=int(os.environ.get("E2E_MANY_TIMEOUT", "10")))(handler)
