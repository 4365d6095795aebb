"""``schedo worker`` as a real process against a real ``schedo serve`` process: reconnection
after a server restart, signals, the ``--key``/``--url`` options and exit codes, definitions
checked before anything is sent, and results that hold text UTF-8 cannot encode.

Every wait is a condition polled with a deadline; sleeps are never assertions.
"""

from __future__ import annotations

import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import schedo
from tests.support.server import ADMIN_KEY, ServerProcess, free_port, wait_until
from tests.support.worker import APPS, TERMINAL, WorkerProcess, job_ids, wait_status


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Workers started by a test; any still running at the end is killed."""
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()


def prefix() -> str:
    """Job names of one test, apart from the others' on the shared server."""
    return f"wp-{uuid.uuid4().hex[:6]}-"


def start(workers: list[WorkerProcess], w: WorkerProcess) -> WorkerProcess:
    workers.append(w)
    return w


# -- 1. reconnecting after a server restart ---------------------------------------------------


def test_worker_pulls_again_within_seconds_of_a_server_restart(
    tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    """The server is down long enough for an uncapped backoff to grow past 15 s; once it is
    back (same port, same database) the worker claims a run within a few seconds: its
    reconnect backoff is capped at 5 s (schedo.sdk.backoff.RECONNECT_CAP)."""
    workdir = tmp_path / "own-server"
    workdir.mkdir()
    db = f"sqlite:///{workdir / 'schedo.db'}"
    port = free_port()
    srv = ServerProcess(db, workdir, port=port).start()
    p = prefix()
    try:
        w = start(workers, WorkerProcess(
            [f"{APPS}/behaviours.py:app"], tmp_path, url=srv.url, E2E_PREFIX=p
        ))  # fmt: skip
        with schedo.Client(ADMIN_KEY, srv.url) as c:
            jid = job_ids(c, p + "returns-dict", worker=w)[p + "returns-dict"]
            wait_until(lambda: c.connections_count(jid) == 1, 20, what="the worker's poll")
        srv.kill()
        # six failed pulls: 0.5 + 1 + 2 + 4 + 5 s with the cap; an uncapped backoff (doubling
        # to 30 s) would now wait 16 s before its seventh attempt
        wait_until(lambda: w.log().count("pull failed") >= 6, 40, what="six failed pulls")
        assert w.alive(), w.log()
        srv = ServerProcess(db, workdir, port=port).start()
        back = time.monotonic()
        with schedo.Client(ADMIN_KEY, srv.url) as c:
            run = c.trigger_job(jid)
            done = wait_status(c, jid, run.id, {"running", "completed"}, 30, w)
            took = time.monotonic() - back
            assert took < 7.5, f"the worker came back {took:.1f}s after the server:\n{w.log()}"
            done = wait_status(c, jid, run.id, {"completed"}, 20, w)
            assert done.output is not None and '"rows": 123' in done.output
        assert w.stop() == 0, w.log()
        log = w.log()
        delays = [float(d) for d in re.findall(r"pull failed .*; retrying in ([\d.]+)s", log)]
        assert len(delays) >= 6 and max(delays) <= 5.0, delays
        assert "reconnected to" in log and "Traceback" not in log, log
    finally:
        srv.kill()


# -- 2. a second signal -----------------------------------------------------------------------


def test_a_second_sigint_gives_up_on_the_running_handler_and_says_so(
    server: ServerProcess, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    """Ctrl-C twice: the worker does not wait out its 30 s grace; the run is reported failed
    with the true reason (a second signal, and when), not "shutdown grace expired"."""
    p = prefix()
    w = start(workers, WorkerProcess(
        [f"{APPS}/behaviours.py:app"], tmp_path, url=server.url, E2E_PREFIX=p,
        E2E_SLOW_SECONDS="120",
    ))  # fmt: skip
    with schedo.Client(ADMIN_KEY, server.url) as c:
        jid = job_ids(c, p + "slow", worker=w)[p + "slow"]
        run = c.trigger_job(jid)
        wait_until(
            lambda: f"run.started job={p}slow execution={run.id}" in w.log(),
            20,
            what="the handler to start",
        )
        w.send(signal.SIGINT)
        wait_until(lambda: "SIGINT: stopping" in w.log(), 10, what="the first SIGINT handled")
        assert w.alive()  # waiting for the handler
        first = time.monotonic()
        assert w.stop(signal.SIGINT, timeout=20) == 0, w.log()
        assert time.monotonic() - first < 10  # not the 30 s grace
        done = wait_status(c, jid, run.id, {"failed", "completed", "expired"}, 5)
    assert done.status == "failed", done
    assert done.error is not None and "grace" not in done.error, done.error
    assert re.fullmatch(
        r"WorkerShutdown: the worker stopped before the handler finished "
        r"\(interrupted by a second signal \(SIGINT\) \d+\.\ds after the first\)",
        done.error,
    ), done.error
    log = w.log()
    assert "SIGINT again: shutting down now" in log and "Traceback" not in log, log


# -- 3. --key / --url and the exit status of a refused key -----------------------------------


def test_key_and_url_options_win_over_the_environment(
    server: ServerProcess, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    p = prefix()
    dead = f"http://127.0.0.1:{free_port()}"
    w = start(workers, WorkerProcess(
        [f"{APPS}/behaviours.py:app", "--url", server.url, "--key", ADMIN_KEY], tmp_path,
        url=dead, key="sk_wrong_key_from_the_environment_0000", E2E_PREFIX=p,
    ))  # fmt: skip
    with schedo.Client(ADMIN_KEY, server.url) as c:
        jid = job_ids(c, p + "returns-dict", worker=w)[p + "returns-dict"]
        run = c.trigger_job(jid)
        done = wait_status(c, jid, run.id, {"completed", "failed"}, 20, w)
    assert done.status == "completed", done
    assert w.stop() == 0, w.log()


def test_a_refused_key_exits_4_and_blames_the_key(
    server: ServerProcess, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    p = prefix()
    w = start(workers, WorkerProcess(
        [f"{APPS}/behaviours.py:app", "--url", server.url, "--key", "sk_wrong_key_0000000000"],
        tmp_path, key=None, E2E_PREFIX=p,
    ))  # fmt: skip
    assert w.wait(30) == 4, w.log()
    last = w.log().strip().splitlines()[-1]
    assert last.startswith("schedo worker: the server refused the API key: "), w.log()
    assert "(HTTP 401)" in last and "job " not in last, last
    assert "Traceback" not in w.log()


def test_no_key_anywhere_is_a_usage_error(
    server: ServerProcess, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    w = start(workers, WorkerProcess(
        [f"{APPS}/behaviours.py:app", "--url", server.url], tmp_path, key=None,
        E2E_PREFIX=prefix(),
    ))  # fmt: skip
    assert w.wait(30) == 2, w.log()
    assert w.log().strip().splitlines()[-1] == (
        "schedo worker: no API key: pass --key, set SCHEDO_API_KEY or give Schedo(api_key=...)"
    )
    bad = start(workers, WorkerProcess(
        [f"{APPS}/behaviours.py:app", "--url", "ftp://example.com"], tmp_path,
        E2E_PREFIX=prefix(),
    ))  # fmt: skip
    assert bad.wait(30) == 2, bad.log()
    assert "--url: 'ftp://example.com' is not an http(s) URL" in bad.log()


# -- 4. definitions: every bad field at once, all or none ------------------------------------


def test_one_bad_definition_among_several_defines_none_and_names_every_bad_field(
    server: ServerProcess, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    p = prefix()
    w = start(workers, WorkerProcess(
        [f"{APPS}/one_bad_among_several.py:app"], tmp_path, url=server.url, E2E_PREFIX=p
    ))  # fmt: skip
    assert w.wait(30) == 2, w.log()
    assert w.log().strip().splitlines()[-1] == (
        f"schedo worker: job '{p}bad': schedule: hour field: 24 is out of range 0-23; "
        "timezone: unknown time zone 'Mars/Olympus'; "
        "timeout: must be between 0 and 86400 seconds (24 h)"
    ), w.log()
    with schedo.Client(ADMIN_KEY, server.url) as c:
        assert not [j.name for j in c.list_jobs() if j.name.startswith(p)]


# -- 6. results holding lone surrogates -------------------------------------------------------


def test_results_with_lone_surrogates_are_reported_with_replacement_characters(
    server: ServerProcess, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    """Text decoded with surrogateescape in a returned string, an exception message and a
    returned object: each run ends once, with U+FFFD where the bytes were, instead of a
    dropped report, an expired run and a second attempt."""
    p = prefix()
    w = start(workers, WorkerProcess(
        [f"{APPS}/surrogates.py:app"], tmp_path, url=server.url, E2E_PREFIX=p
    ))  # fmt: skip
    names = [p + n for n in ("returns-text", "raises", "returns-object")]
    with schedo.Client(ADMIN_KEY, server.url) as c:
        ids = job_ids(c, *names, worker=w)
        runs = {n: c.trigger_job(ids[n]).id for n in names}
        done = {
            n.removeprefix(p): wait_status(c, ids[n], runs[n], TERMINAL, 30, w) for n in names
        }
        history = {n: list(c.iter_executions(ids[n])) for n in names}
    text, raised, obj = done["returns-text"], done["raises"], done["returns-object"]
    assert text.status == "completed" and text.output == "wrote caf\ufffd-\ufffd.txt", text
    assert raised.status == "failed", raised
    assert raised.error == "FileNotFoundError: no such file: caf\ufffd-\ufffd.txt"
    assert raised.output is not None and "no such file: caf\ufffd-\ufffd.txt" in raised.output
    assert obj.status == "completed", obj
    assert obj.output == '{"files": ["caf\ufffd-\ufffd.txt"], "pair": "\U0001f600"}'
    assert all(len(h) == 1 for h in history.values()), history  # no retry: nothing expired
    assert w.stop() == 0, w.log()
    log = w.log()
    assert "surrogates not allowed" not in log and "dropped" not in log, log
