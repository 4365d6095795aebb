"""Runs while they run (issue 21) with a real ``schedo worker`` process against a real
server: a cancelled run stops in its handler (async: cancelled; sync: ``ctx.cancelled``), the
worker reports nothing, the run stays ``cancelled`` and shows the worker that held it.

Every wait is a condition polled with a deadline; sleeps are never assertions.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import schedo
from tests.support.server import ServerProcess, wait_until
from tests.support.worker import APPS, WorkerProcess, job_ids, wait_status


@pytest.fixture
def worker(server: ServerProcess, tmp_path: Path) -> Iterator[tuple[WorkerProcess, str]]:
    prefix = f"live-{uuid.uuid4().hex[:6]}-"
    w = WorkerProcess([f"{APPS}/live.py:app"], tmp_path, url=server.url, E2E_PREFIX=prefix,
                      E2E_MARKS=str(tmp_path))
    try:
        yield w, prefix
    finally:
        w.kill()


def test_cancelling_runs_stops_their_handlers_and_nothing_is_reported(
    client: schedo.Client, worker: tuple[WorkerProcess, str], tmp_path: Path
) -> None:
    w, p = worker
    ids = job_ids(client, f"{p}async-long", f"{p}sync-long", worker=w)
    runs = {n: client.trigger_job(i) for n, i in ids.items()}
    for n, run in runs.items():
        held = wait_status(client, ids[n], run.id, {"running"}, 20, w)
        assert held.worker is not None
        assert held.worker.startswith(f"{socket.gethostname()[:120]}-{w.pid}-"), held.worker
    for run in runs.values():
        done = client.cancel_execution(run.id, "test")
        assert done.status == "cancelled" and done.error == "cancelled on request: test"
    a, s = runs[f"{p}async-long"].id, runs[f"{p}sync-long"].id
    wait_until(lambda: (tmp_path / f"{a}.async-cancelled").exists()
               and (tmp_path / f"{s}.sync-saw-flag").exists(), 15,
               what="both handlers to see the cancellation")
    wait_until(lambda: w.log().count("run.cancelled") == 2, 10, what="the worker's log lines")
    assert w.alive()
    for n, run in runs.items():
        [e] = [x for x in client.list_executions(ids[n]) if x.id == run.id]
        assert e.status == "cancelled"  # nothing reported over it (a report would be a 409)
    assert "409" not in w.log() and "refused" not in w.log(), w.log()
    log = client.read_log(a)  # ctx.log(...) reached the run's live output
    assert [x.line for x in log.lines] == ["async handler started"], log
    assert log.execution.status == "cancelled"
    assert w.stop() == 0


def test_ctx_log_and_captured_logging_reach_the_live_output(
    client: schedo.Client, worker: tuple[WorkerProcess, str]
) -> None:
    w, p = worker
    ids = job_ids(client, f"{p}captures", f"{p}no-capture", worker=w)
    runs = {n: client.trigger_job(i) for n, i in ids.items()}
    for n, run in runs.items():
        assert wait_status(client, ids[n], run.id, {"completed"}, 20, w).output == "ok"
    # flushed before the report: complete as soon as the run is
    got = [x.line for x in client.read_log(runs[f"{p}captures"].id).lines]
    assert got == ["direct line", "WARNING myapp.db: captured 42 rows"], got
    got = [x.line for x in client.read_log(runs[f"{p}no-capture"].id).lines]
    assert got == ["only this"], got
