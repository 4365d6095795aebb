"""``schedo worker`` as real processes against a real ``schedo serve`` process.

Every wait is a condition polled with a deadline; sleeps are never assertions.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import schedo
from schedo import Execution
from tests.support.server import ADMIN_KEY, ServerProcess, child_env, wait_until
from tests.support.worker import APPS, ROOT, TERMINAL, WORKER, WorkerProcess, job_ids, wait_status


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("e2e-worker")
    srv = ServerProcess(f"sqlite:///{workdir / 'schedo.db'}", workdir).start()
    try:
        yield srv
    finally:
        # killed, not stopped: a graceful stop waits 10 s for long polls that stopped
        # workers abandoned (see test_no_run_is_claimed_for_a_worker_that_stopped)
        srv.kill()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Started workers are registered here; any still running at the end is killed."""
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()


def prefix() -> str:
    """Job names of one test, apart from the others' on the shared server."""
    return f"e2e-{uuid.uuid4().hex[:6]}-"


def start_worker(
    workers: list[WorkerProcess], target: str, server: ServerProcess, workdir: Path, **env: str
) -> WorkerProcess:
    w = WorkerProcess([target], workdir, url=server.url, **env)
    workers.append(w)
    return w


def runs(c: schedo.Client, job_id: int) -> list[Execution]:
    return list(c.iter_executions(job_id))


# -- every tick exactly once ------------------------------------------------------------------


@pytest.mark.slow
def test_every_second_job_runs_each_tick_exactly_once_on_two_workers(
    db_url: str, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    server = ServerProcess(db_url, tmp_path).start()
    try:
        _every_tick_exactly_once(server, workers, tmp_path)
    finally:
        server.kill()


def _every_tick_exactly_once(
    server: ServerProcess, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    name = f"e2e-tick-{uuid.uuid4().hex[:6]}"
    a = start_worker(workers, f"{APPS}/ticker.py:app", server, tmp_path, E2E_TICKER_JOB=name)
    b = start_worker(workers, f"{APPS}/ticker.py:app", server, tmp_path, E2E_TICKER_JOB=name)
    with schedo.Client(ADMIN_KEY, server.url) as c:
        jid = job_ids(c, name, worker=a)[name]
        wait_until(lambda: c.connections_count(jid) == 2, 30, what="two worker connections")

        def ten_seconds_done() -> bool:
            completed = [e for e in runs(c, jid) if e.status == "completed" and e.scheduled_for]
            done = sorted(e.scheduled_for for e in completed if e.scheduled_for)
            # both workers took part (under load one may win every claim for a while)
            by = {(e.output or "").rsplit(" ", 1)[-1] for e in completed}
            return (len(done) >= 2 and done[-1] - done[0] >= timedelta(seconds=10)
                    and {str(a.pid), str(b.pid)} <= by)

        wait_until(ten_seconds_done, 60, interval=0.25,
                   what="10 s of completed ticks, some by each worker")
        c.pause_job(jid)
        wait_until(
            lambda: all(e.status in TERMINAL for e in runs(c, jid)), 20, what="the last runs to end"
        )
        assert a.stop() == 0, a.log()
        assert b.stop() == 0, b.log()
        history = runs(c, jid)

    first_attempts = [e for e in history if e.attempt == 1 and e.trigger == "schedule"]
    instants = [e.scheduled_for for e in first_attempts if e.scheduled_for is not None]
    assert len(instants) == len(set(instants)), "a tick was created twice"
    assert len(first_attempts) == len(history), "no retries or manual runs were expected"
    done = sorted(
        e.scheduled_for for e in history if e.status == "completed" and e.scheduled_for is not None
    )
    first, last = done[0], done[-1]
    assert last - first >= timedelta(seconds=10)
    expected = [first + timedelta(seconds=s) for s in range(int((last - first).seconds) + 1)]
    assert done == expected, f"missing ticks: {sorted(set(expected) - set(done))}"
    window = [
        e for e in history if e.scheduled_for is not None and first <= e.scheduled_for <= last
    ]
    assert all(e.status == "completed" for e in window), [
        (e.id, e.status, e.error) for e in window if e.status != "completed"
    ]
    pids = {str(a.pid), str(b.pid)}
    for e in window:
        assert e.output is not None and e.output.startswith("tick ")
        assert e.output.rsplit(" ", 1)[-1] in pids
        assert e.output == f"tick {e.scheduled_for:%H:%M:%S} by {e.output.rsplit(' ', 1)[-1]}"
    for w in (a, b):
        assert "Traceback" not in w.log(), w.log()
        assert "run.started job=" in w.log(), w.log()


# -- outcomes of handlers ---------------------------------------------------------------------


@pytest.mark.slow
def test_failures_timeouts_and_objects_are_reported(
    server: ServerProcess, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    p = prefix()
    w = start_worker(workers, f"{APPS}/behaviours.py:app", server, tmp_path, E2E_PREFIX=p)
    names = [p + n for n in ("raises", "hangs-sync", "hangs-async", "returns-dict")]
    with schedo.Client(ADMIN_KEY, server.url) as c:
        ids = job_ids(c, *names, worker=w)
        triggered = {n: c.trigger_job(ids[n]).id for n in names}
        end = {
            n.removeprefix(p): wait_status(c, ids[n], triggered[n], {"completed", "failed"}, 20, w)
            for n in names
        }

    raised = end["raises"]
    assert raised.status == "failed"
    assert raised.error == f"ValueError: boom in execution {raised.id}"
    assert raised.output is not None and "Traceback" in raised.output
    assert 'raise ValueError(f"boom in execution' in raised.output

    for n, limit in (("hangs-sync", "2s"), ("hangs-async", "1.5s")):
        hung = end[n]
        assert hung.status == "failed", hung
        assert hung.error == f"TimeoutError: handler exceeded {limit}"
        assert hung.duration is not None and hung.duration < 10_000

    obj = end["returns-dict"]
    assert obj.status == "completed" and obj.error is None
    assert obj.output == '{"rows": 123, "attempt": 1, "meta": {"team": "data"}}'

    # the sync handler's thread is still sleeping: the worker exits anyway, status 0
    assert w.stop() == 0, w.log()
    log = w.log()
    assert f"handler thread schedo-{p}hangs-sync" in log
    assert f"outcome=failed error=ValueError: boom in execution {raised.id}" in log
    assert f"run.ended job={p}returns-dict execution={obj.id} attempt=1" in log


# -- graceful shutdown ------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_lets_the_running_handler_finish_and_report(
    server: ServerProcess, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    p = prefix()
    w = start_worker(
        workers, f"{APPS}/behaviours.py:app", server, tmp_path, E2E_PREFIX=p, E2E_SLOW_SECONDS="3"
    )
    with schedo.Client(ADMIN_KEY, server.url) as c:
        jid = job_ids(c, p + "slow", worker=w)[p + "slow"]
        run = c.trigger_job(jid)
        wait_until(
            lambda: f"run.started job={p}slow execution={run.id}" in w.log(),
            20,
            what="the handler to start",
        )
        assert w.proc is not None
        w.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "SIGTERM: stopping" in w.log(), 10, what="the stop request")
        later = c.trigger_job(jid)  # after the stop request: this worker must not take it
        assert w.stop(None, timeout=30) == 0, w.log()
        done = wait_status(c, jid, run.id, {"completed", "failed"}, 5)
        assert done.status == "completed" and done.output == "slept 3s", done
        assert done.duration is not None and done.duration >= 2900
    log = w.log()
    assert f"execution={later.id}" not in log, log
    assert "worker stopped" in log and "Traceback" not in log, log


def test_no_run_is_claimed_for_a_worker_that_stopped(
    server: ServerProcess, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    p = prefix()
    w = start_worker(workers, f"{APPS}/behaviours.py:app", server, tmp_path, E2E_PREFIX=p)
    with schedo.Client(ADMIN_KEY, server.url) as c:
        jid = job_ids(c, p + "returns-dict", worker=w)[p + "returns-dict"]
        wait_until(lambda: c.connections_count(jid) == 1, 10, what="the worker's poll")
        assert w.stop() == 0, w.log()
        run = c.trigger_job(jid)
        # nobody polls now: the run must wait, pending, for the next worker
        with pytest.raises(AssertionError):
            wait_status(c, jid, run.id, {"running"}, 2)


def test_refused_schedule_stops_the_worker_with_one_line(
    server: ServerProcess, tmp_path: Path
) -> None:
    env = child_env(SCHEDO_API_KEY=ADMIN_KEY, SCHEDO_BASE_URL=server.url)
    cmd = WORKER
    r = subprocess.run(
        [*cmd, f"{APPS}/bad_schedule.py:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # the SDK checks the schedule by the server's rules before sending anything: a bad
    # definition is the app's mistake, exit 2 (docs/cli.md, schedo worker exit codes)
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("schedo worker: job 'e2e-bad-schedule': schedule:"), r.stderr
    assert "hour" in last and "Traceback" not in r.stderr
    with schedo.Client(ADMIN_KEY, server.url) as c:
        assert "e2e-bad-schedule" not in {j.name for j in c.list_jobs()}

    for target, words in (
        (f"{APPS}/not_an_app.py:app", "not a schedo.Schedo app"),
        (f"{APPS}/missing.py:app", "no such file"),
        ("tests.e2e.apps.nothing_here:app", "cannot import module"),
        (f"{APPS}/ticker.py:nope", "has no attribute 'nope'"),
    ):
        r = subprocess.run(
            [*cmd, target], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 2, (target, r.stderr)
        assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


# -- the server goes away and comes back ------------------------------------------------------


@pytest.mark.slow
def test_worker_survives_a_server_restart_and_loses_no_report(
    db_url: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    srv = ServerProcess(db_url, tmp_path).start()
    p = prefix()
    try:
        w = start_worker(
            workers, f"{APPS}/behaviours.py:app", srv, tmp_path, E2E_PREFIX=p, E2E_SLOW_SECONDS="2"
        )
        with schedo.Client(ADMIN_KEY, srv.url) as c:
            ids = job_ids(c, p + "slow", p + "returns-dict", worker=w)
            run = c.trigger_job(ids[p + "slow"])
            wait_until(
                lambda: f"run.started job={p}slow execution={run.id}" in w.log(),
                20,
                what="the handler to start",
            )
        srv.kill()  # SIGKILL: no goodbye to the worker
        # the handler ends while the server is down; its report fails and is kept
        wait_until(
            lambda: f"run.ended job={p}slow execution={run.id}" in w.log(),
            15,
            what="the handler to end",
        )
        wait_until(
            lambda: f"report of execution {run.id} failed" in w.log(),
            15,
            what="a failed report attempt",
        )
        assert w.alive(), w.log()
        srv = ServerProcess(db_url, tmp_path, port=srv.port).start()
        with schedo.Client(ADMIN_KEY, srv.url) as c:
            done = wait_status(
                c, ids[p + "slow"], run.id, {"completed", "failed", "expired"}, 45, w
            )
            assert done.status == "completed" and done.output == "slept 2s", done
            # and it pulls again
            again = c.trigger_job(ids[p + "returns-dict"])
            after = wait_status(c, ids[p + "returns-dict"], again.id, {"completed"}, 45, w)
            assert after.output is not None and '"rows": 123' in after.output
        assert w.stop() == 0, w.log()
        log = w.log()
        assert "pull failed" in log and "reconnected" in log
        assert "Traceback" not in log, log
    finally:
        srv.kill()
