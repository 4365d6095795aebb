"""Chains with real processes (issue 21): a ``schedo serve`` process and a ``schedo worker``
running extract -> transform -> load; and two server nodes on one PostgreSQL database, each
with its own worker, making exactly one downstream run per upstream end.

Every wait is a condition polled with a deadline; sleeps are never assertions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import schedo
from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database
from tests.support.server import ADMIN_KEY, ServerProcess, wait_until
from tests.support.worker import APPS, WorkerProcess, job_ids

HEADERS = {"x-api-key": ADMIN_KEY}


def _completed(c: schedo.Client, job_id: int) -> list[Any]:
    return [e for e in c.iter_executions(job_id) if e.status == "completed"]


def _chain(url: str, exec_id: int) -> dict[str, Any]:
    r = httpx.get(f"{url}/jobs/executions/{exec_id}/chain", headers=HEADERS, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_worker_runs_extract_transform_load(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path / 'schedo.db'}", tmp_path).start()
    p = f"chain-{uuid.uuid4().hex[:6]}-"
    w = WorkerProcess([f"{APPS}/chain.py:app"], tmp_path, url=server.url, E2E_PREFIX=p,
                      E2E_FAN_IN="1")
    try:
        with schedo.Client(ADMIN_KEY, server.url) as c:
            ids = job_ids(c, f"{p}extract", f"{p}transform", f"{p}load", worker=w)
            ext, tra, load = ids[f"{p}extract"], ids[f"{p}transform"], ids[f"{p}load"]
            for cycle in range(1, 4):
                c.trigger_job(ext)
                done = wait_until(lambda n=cycle: len(_completed(c, load)) >= n and
                                  _completed(c, load), 30, what=f"load run {cycle}")
            assert len(done) == 3 and len(_completed(c, tra)) == 3
            # each load run was caused by one transform and one extract run of its cycle
            seen: set[int] = set()
            for run in done:
                assert run.trigger == "chain"
                causes = _chain(server.url, run.id)["causes"]
                assert sorted(x["job_id"] for x in causes) == sorted([ext, tra])
                assert all(x["status"] == "completed" for x in causes)
                seen.update(x["id"] for x in causes)
            assert len(seen) == 6  # no upstream run caused two load runs
            page = httpx.get(f"{server.url}/jobs/{tra}/chain", headers=HEADERS).json()
            assert [j["name"] for j in page["upstream"]] == [f"{p}extract"]
            assert [j["name"] for j in page["downstream"]] == [f"{p}load"]
        assert w.stop() == 0
    finally:
        w.kill()
        server.stop()


@pytest.fixture
def pg_db() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("needs SCHEDO_TEST_POSTGRES_URL")
    url = asyncio.run(_fresh_pg_database(PG_URL))
    yield url
    asyncio.run(_drop_pg_database(url))


def test_two_nodes_make_one_downstream_run_per_upstream_end(
    tmp_path: Path, pg_db: str
) -> None:
    a = ServerProcess(pg_db, tmp_path).start()
    b = ServerProcess(pg_db, tmp_path).start()
    p = f"chain-{uuid.uuid4().hex[:6]}-"
    wa = WorkerProcess([f"{APPS}/chain.py:app"], tmp_path, url=a.url, E2E_PREFIX=p)
    wb = WorkerProcess([f"{APPS}/chain.py:app"], tmp_path, url=b.url, E2E_PREFIX=p)
    cycles = 12
    try:
        with schedo.Client(ADMIN_KEY, a.url) as ca, schedo.Client(ADMIN_KEY, b.url) as cb:
            ids = job_ids(ca, f"{p}extract", f"{p}transform", f"{p}load", worker=wa)
            job_ids(cb, f"{p}load", worker=wb)
            ext, tra, load = ids[f"{p}extract"], ids[f"{p}transform"], ids[f"{p}load"]
            for i in range(cycles):  # through both nodes, without waiting
                (ca if i % 2 else cb).trigger_job(ext)
            wait_until(lambda: len(_completed(ca, load)) >= cycles, 60,
                       what=f"{cycles} load runs")
            wait_until(lambda: all(e.status in ("completed", "failed", "expired")
                                   for j in (ext, tra, load) for e in ca.iter_executions(j)),
                       30, what="every run ended")
            extracts = list(ca.iter_executions(ext))
            transforms = list(ca.iter_executions(tra))
            loads = list(ca.iter_executions(load))
            assert len(extracts) == len(transforms) == len(loads) == cycles
            assert {e.status for e in extracts + transforms + loads} == {"completed"}
            # exactly one downstream run per upstream end, whichever node recorded it
            for up, downs in ((extracts, transforms), (transforms, loads)):
                caused = [x["id"] for d in downs
                          for x in _chain(b.url, d.id)["causes"]]
                assert sorted(caused) == sorted(e.id for e in up)
        assert wa.stop() == 0 and wb.stop() == 0
    finally:
        wa.kill()
        wb.kill()
        for s in (a, b):
            s.stop()
