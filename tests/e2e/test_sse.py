"""The SSE worker stream on a real server (httpx's in-process transport buffers streams)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx

from tests.support.server import ServerProcess


def test_sse_stream_delivers_claimed_runs_and_counts_a_connection(tmp_path: Path) -> None:
    srv = ServerProcess(f"sqlite:///{tmp_path / 'sse.db'}", tmp_path).start()
    try:
        with srv.client() as c:
            job = c.post("/jobs/definition", json={"name": "streamed-job",
                                                   "schedule": "0 0 1 1 *"}).json()
            c.post(f"/jobs/trigger/{job['id']}")
        events: list[dict] = []
        counts: list[int] = []
        comments: list[str] = []

        def trigger_later() -> None:
            time.sleep(0.5)
            with srv.client() as c2:
                counts.append(c2.get(f"/jobs/{job['id']}/connections/count").json())
                c2.post(f"/jobs/trigger/{job['id']}")

        t = threading.Thread(target=trigger_later)
        started = time.monotonic()
        with httpx.stream("GET", srv.url + "/jobs/executions/sse?jobs=streamed-job",
                          headers={**srv.headers, "x-schedo-worker-id": "s1"},
                          timeout=10) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith(":"):
                    comments.append(line)
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) == 1:
                        t.start()
                    if len(events) == 2:
                        break
        t.join()
        assert time.monotonic() - started < 5  # the second run arrived as soon as triggered
        assert comments and comments[0] == ": connected"
        assert counts == [1]
        assert [e["status"] for e in events] == ["running", "running"]
        assert len({e["id"] for e in events}) == 2
    finally:
        srv.stop()
