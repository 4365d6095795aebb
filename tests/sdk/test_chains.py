"""Chains in the SDK (issue 21): ``@app.job(..., after=[...], on=...)``, checked when
decorated, defined after its upstream jobs, and run by the worker once they ended."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import schedo
from schedo import DefinitionError, JobContext, Schedo
from schedo.sdk.definition import define_waves
from tests.sdk.test_worker import NEVER, finished, job_id, wait_for
from tests.support.server import ADMIN_KEY, ServerProcess


def test_after_is_checked_and_kept() -> None:
    app = Schedo("k")
    app.job("load", after=["extract", "transform"], on="completion",
            within_seconds=120)(lambda ctx: None)
    d = app.jobs["load"]
    assert d.schedule == "@never"
    assert d.after == {"jobs": ["extract", "transform"], "on": "completion",
                       "within_seconds": 120}
    app.job("both", "0 * * * *", after=["extract"])(lambda ctx: None)
    assert app.jobs["both"].schedule == "0 * * * *"
    assert app.jobs["both"].after == {"jobs": ["extract"], "on": "success"}
    app.job("plain", NEVER)(lambda ctx: None)
    assert app.jobs["plain"].after is None


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"after": []}, "after: must be a non-empty list"),
    ({"after": ["load"]}, "after: a job cannot run after itself"),
    ({"after": ["aaaa", "aaaa"]}, "named twice"),
    ({"after": ["aaaa"], "on": "maybe"}, "on: must be one of"),
    ({"after": ["aaaa"], "within_seconds": 0}, "within_seconds"),
    ({}, "schedule"),  # neither a schedule nor after
])
def test_bad_chains_are_refused_when_decorated(kwargs: dict[str, Any], words: str) -> None:
    app = Schedo("k")
    with pytest.raises(DefinitionError) as err:
        app.job("load", **kwargs)(lambda ctx: None)
    assert words in str(err.value)
    assert app.jobs == {}


def test_upstream_jobs_of_the_app_are_defined_first() -> None:
    app = Schedo("k")
    app.job("load", after=["transform", "outside"])(lambda ctx: None)
    app.job("transform", after=["extract"])(lambda ctx: None)
    app.job("extract", NEVER)(lambda ctx: None)
    app.job("other", NEVER)(lambda ctx: None)
    waves = [[d.name for d in w] for w in define_waves(app.jobs.values())]
    assert waves == [["extract", "other"], ["transform"], ["load"]]


async def test_a_worker_runs_extract_transform_load(server: ServerProcess, name: str) -> None:
    app = Schedo(ADMIN_KEY, server.url, poll_wait=2)
    seen: dict[str, JobContext] = {}

    # declared downstream first: the worker still defines the upstream jobs before it
    @app.job(f"{name}-load", after=[f"{name}-transform", f"{name}-extract"])
    def load(ctx: JobContext) -> str:
        seen["load"] = ctx
        return "loaded"

    @app.job(f"{name}-transform", after=[f"{name}-extract"])
    def transform(ctx: JobContext) -> str:
        seen["transform"] = ctx
        return "transformed"

    @app.job(f"{name}-extract", NEVER)
    def extract(ctx: JobContext) -> str:
        return "extracted"

    runner = asyncio.create_task(app.run_async())
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        await wait_for(lambda: _defined(c, f"{name}-load"), 10, "definitions")
        ext = await job_id(c, f"{name}-extract")
        load_id = await job_id(c, f"{name}-load")
        await c.trigger_job(ext)
        [done] = await wait_for(lambda: finished(c, load_id, 1), 30, "the load run")
    app.stop()
    assert await asyncio.wait_for(runner, 20) == 0
    assert done.status == "completed" and done.output == "loaded"
    assert seen["load"].trigger == "chain" and seen["transform"].trigger == "chain"


async def _defined(c: schedo.AsyncClient, name: str) -> bool:
    return any(j.name == name and j.after for j in await c.list_jobs())
