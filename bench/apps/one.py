"""One no-op job, for measuring a real ``schedo worker`` process (footprint scenario)."""

from __future__ import annotations

from schedo import JobContext, Schedo

app = Schedo()


@app.job("bench-one", "0 0 1 1 *")
async def one(ctx: JobContext) -> None:
    return None
