"""An app whose schedule the server refuses: the worker must stop before running anything."""

from __future__ import annotations

from schedo import Schedo

app = Schedo()


@app.job("e2e-bad-schedule", "0 24 * * *")
def never(ctx: object) -> None:
    raise AssertionError("must not run")
