"""Three `schedo serve` processes on one PostgreSQL database, 200 jobs every second, workers
spread over the three; one server killed with SIGKILL every few seconds and restarted.
Zero duplicate ticks, zero missed ticks, every run completed or visibly expired."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database
from tests.support.server import ADMIN_KEY, ServerProcess, child_env, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not PG_URL, reason="needs SCHEDO_TEST_POSTGRES_URL")]
ROOT = Path(__file__).resolve().parents[2]
JOBS = 200
RUN_SECONDS = 30


@pytest.fixture
def pg_db() -> Iterator[str]:
    assert PG_URL
    url = asyncio.run(_fresh_pg_database(PG_URL))
    yield url
    asyncio.run(_drop_pg_database(url))


def _worker(server: ServerProcess, log: Path) -> subprocess.Popen[bytes]:
    env = child_env(SCHEDO_API_KEY=ADMIN_KEY, SCHEDO_BASE_URL=server.url,
                    E2E_MANY_JOBS=str(JOBS), SCHEDO_LOG_LEVEL="INFO")  # a load test: lean logs
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "schedo.cli", "worker",
                                 "tests/e2e/apps/many.py:app"], cwd=ROOT, env=env,
                                stdout=fh, stderr=subprocess.STDOUT)


def test_three_servers_one_killed_repeatedly(tmp_path: Path, pg_db: str) -> None:
    servers = [ServerProcess(pg_db, tmp_path).start() for _ in range(3)]
    workers = [_worker(s, tmp_path / f"worker-{i}.log") for i, s in enumerate(servers)]
    try:
        # wait until every job is defined and ticking
        wait_until(lambda: _count(pg_db, "SELECT count(*) FROM jobs") == JOBS, 60,
                   what="job definitions")
        started = time.time()
        victim = 0
        while time.time() - started < RUN_SECONDS:
            time.sleep(4)
            servers[victim].kill()
            time.sleep(1)
            servers[victim] = ServerProcess(pg_db, tmp_path, port=servers[victim].port).start()
            victim = (victim + 1) % 3
        # stop the ticks (pause every job), let the workers drain what is due, then stop them
        with httpx.Client(base_url=servers[0].url, headers=servers[0].headers,
                          timeout=60) as c:
            for j in c.get("/jobs").json():
                for attempt in range(5):  # the machine is busy: retry a timed-out request
                    try:
                        assert c.patch(f"/jobs/pause/{j['id']}").status_code == 200
                        break
                    except httpx.TimeoutException:
                        if attempt == 4:
                            raise
        live = ("SELECT count(*) FROM executions WHERE status IN ('pending', 'running')")
        # runs claimed through a killed server never reach a worker: they expire at their
        # deadline (timeout 10 s + 5 s), so every run ends within seconds
        wait_until(lambda: _count(pg_db, live) == 0, 90, interval=1, what="all runs ended")
        for w in workers:
            w.terminate()
        for w in workers:
            assert w.wait(60) == 0
        rows = _rows(pg_db, "SELECT job_id, scheduled_for, attempt, status, source, error "
                            "FROM executions WHERE trigger != 'retry'")
        ticks = Counter((r[0], r[1]) for r in rows if r[4] == "schedule")
        assert max(ticks.values()) == 1, "a tick was created twice"
        by_job: dict[int, list[int]] = {}
        for job_id, at in ticks:
            by_job.setdefault(job_id, []).append(at)
        assert len(by_job) == JOBS
        for job_id, instants in by_job.items():
            instants.sort()
            expected = list(range(instants[0], instants[-1] + 1, 1000))
            assert instants == expected, f"job {job_id}: missed ticks"
            assert len(instants) >= RUN_SECONDS
        statuses = Counter(r[3] for r in rows)
        assert set(statuses) <= {"completed", "expired", "skipped"}, statuses
        # an expired run says why (claimed through a killed server, or not picked up in time)
        unexplained = [r for r in rows if r[3] == "expired" and not (r[5] or "").startswith(
            "expired: ")]
        assert not unexplained, unexplained[:3]
        # How many runs the workers complete in time measures this shared machine's throughput
        # under load (three servers, three workers, 200 runs/s on two cores; the benchmarks in
        # bench/ measure throughput): the bound here only says the system kept working.
        assert statuses["completed"] > 0.5 * sum(statuses.values()), statuses
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
        for s in servers:
            s.stop()


def _count(url: str, sql: str) -> int:
    return int(_rows(url, sql)[0][0])


def _rows(url: str, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    async def go() -> list[tuple]:  # type: ignore[type-arg]
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(go())
