"""A worker key (scope ``worker``, issue 22) is enough for ``schedo worker``: real server and
worker processes. The worker defines its jobs, pulls and runs a triggered run, sends its live
output, sees it cancelled and reports; the same key is refused everything else (403)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

import schedo
from tests.support.server import ADMIN_KEY, ServerProcess, wait_until
from tests.support.worker import APPS, WorkerProcess, job_ids, wait_status


def test_schedo_worker_runs_with_a_worker_key(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path / 'schedo.db'}", tmp_path).start()
    prefix = f"scope-{uuid.uuid4().hex[:6]}-"
    w: WorkerProcess | None = None
    try:
        r = httpx.post(server.url + "/apikeys", headers={"x-api-key": ADMIN_KEY}, timeout=10,
                       json={"environment_id": 1, "name": "worker", "scope": "worker"})
        assert r.status_code == 200 and r.json()["scope"] == "worker", r.text
        key = r.json()["key"]
        w = WorkerProcess([f"{APPS}/live.py:app"], tmp_path, url=server.url, key=key,
                          E2E_PREFIX=prefix, E2E_MARKS=str(tmp_path))
        with schedo.Client(ADMIN_KEY, server.url) as admin:
            ids = job_ids(admin, f"{prefix}sync-long", f"{prefix}captures", worker=w)
            done = admin.trigger_job(ids[f"{prefix}captures"])
            ended = wait_status(admin, ids[f"{prefix}captures"], done.id, {"completed"}, 20, w)
            assert ended.status == "completed"
            run = admin.trigger_job(ids[f"{prefix}sync-long"])
            wait_status(admin, ids[f"{prefix}sync-long"], run.id, {"running"}, 20, w)
            wait_until(lambda: admin.read_log(run.id).lines, 10, what="live output")
            assert admin.cancel_execution(run.id).status == "cancelled"
            wait_until(lambda: (tmp_path / f"{run.id}.sync-saw-flag").exists(), 15,
                       what="the worker to see the cancellation")
        # the worker's key may do nothing else
        h = {"x-api-key": key}
        for method, path in (("POST", f"/jobs/trigger/{ids[f'{prefix}captures']}"),
                             ("GET", f"/jobs/executions/{ids[f'{prefix}captures']}"),
                             ("GET", "/audit"), ("GET", "/apikeys"),
                             ("DELETE", f"/jobs/{ids[f'{prefix}captures']}")):
            r = httpx.request(method, server.url + path, headers=h, timeout=10)
            assert r.status_code == 403 and "permission denied" in r.text, (path, r.text)
        assert w.stop() == 0, w.log()
        # no answer the worker got was a refusal (the DEBUG log holds every response's status
        # line; a bare "403" also occurs in object addresses and millisecond stamps)
        log = w.log()
        assert "b'HTTP/1.1', 403" not in log and "permission denied" not in log, log
        assert "b'HTTP/1.1', 200" in log, log
    finally:
        if w is not None:
            w.kill()
        server.stop()
