"""Handlers whose result holds text UTF-8 cannot encode: bytes decoded with
``surrogateescape`` (``os.fsdecode`` of a non-UTF-8 file name), in a returned string, in an
exception message, in a returned object. The worker must report each run (lone surrogates
become U+FFFD), not drop the report and let the run expire and run again.
``E2E_PREFIX`` keeps the job names of one test apart from another's on a shared server."""

from __future__ import annotations

import os
from typing import Any

from schedo import JobContext, Schedo

app = Schedo()
NEVER = "0 0 1 1 *"
PREFIX = os.environ.get("E2E_PREFIX", "e2e-")
NAME = os.fsdecode(b"caf\xe9-\xff.txt")  # Latin-1 bytes: "caf\udce9-\udcff.txt"


@app.job(f"{PREFIX}returns-text", NEVER, timeout=10, max_retries=1)
def returns_text(ctx: JobContext) -> str:
    return f"wrote {NAME}"


@app.job(f"{PREFIX}raises", NEVER, timeout=10)  # failed, not expired, shows the report
def raises(ctx: JobContext) -> None:
    raise FileNotFoundError(f"no such file: {NAME}")


@app.job(f"{PREFIX}returns-object", NEVER, timeout=10, max_retries=1)
async def returns_object(ctx: JobContext) -> dict[str, Any]:
    return {"files": [NAME], "pair": "\ud83d\ude00"}  # a UTF-16 pair as two code points
