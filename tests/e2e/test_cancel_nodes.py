"""Two ``schedo serve`` processes on one PostgreSQL database (issue 21): a run cancelled
through one server stops in a worker connected to the other at once (the cancellation wakes
the worker's watch across processes, well before its 10 s re-read), and its live output is
read through either server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import schedo
from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database
from tests.support.server import ADMIN_KEY, ServerProcess, wait_until
from tests.support.worker import APPS, WorkerProcess, job_ids, wait_status

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs SCHEDO_TEST_POSTGRES_URL")


@pytest.fixture
def pg_db() -> Iterator[str]:
    assert PG_URL
    url = asyncio.run(_fresh_pg_database(PG_URL))
    yield url
    asyncio.run(_drop_pg_database(url))


def test_a_cancel_on_one_node_reaches_a_worker_on_the_other(tmp_path: Path, pg_db: str) -> None:
    a = ServerProcess(pg_db, tmp_path).start()
    b = ServerProcess(pg_db, tmp_path).start()
    prefix = f"nodes-{uuid.uuid4().hex[:6]}-"
    w = WorkerProcess([f"{APPS}/live.py:app"], tmp_path, url=a.url, E2E_PREFIX=prefix,
                      E2E_MARKS=str(tmp_path))
    try:
        with schedo.Client(ADMIN_KEY, a.url) as ca, schedo.Client(ADMIN_KEY, b.url) as cb:
            job = job_ids(ca, f"{prefix}async-long", worker=w)[f"{prefix}async-long"]
            run = ca.trigger_job(job)
            wait_status(ca, job, run.id, {"running"}, 20, w)
            wait_until(lambda: len(cb.read_log(run.id).lines) == 1, 10,
                       what="the live output, read through the other node")
            time.sleep(0.5)  # the worker's watch is waiting on node a by now
            began = time.monotonic()
            assert cb.cancel_execution(run.id).status == "cancelled"
            wait_until(lambda: (tmp_path / f"{run.id}.async-cancelled").exists(), 10,
                       interval=0.05, what="the handler to be cancelled")
            assert time.monotonic() - began < 5, "woken by the re-read, not the wake-up"
        assert w.stop() == 0
    finally:
        w.kill()
        for s in (a, b):
            s.stop()
