"""``schedo agent`` as a real process against a real server: exit codes and output of
commands, timeouts that kill the whole process group, graceful SIGTERM, reconnection.

Every test names its own jobs with ``--jobs``, so that agents of different tests on the
shared server never take each other's runs.
Every wait is a condition polled with a deadline; sleeps are never assertions.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import schedo
from tests.cli.conftest import TERMINAL, Process, agent, start, wait_run
from tests.support.server import ADMIN_KEY, ServerProcess, free_port, wait_until


def pid_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_exit_code_and_output_are_reported(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    failing = client.define_job(name, "0 0 1 1 *", command="echo hi; echo oops >&2; exit 3")
    fine = client.define_job(name + "-ok", "0 0 1 1 *", command='echo "job=$SCHEDO_JOB_NAME"')
    a = agent(processes, server.url, f"{name},{name}-ok", tmp_path)
    run = client.trigger_job(failing.id)
    done = wait_run(client, failing.id, run.id, TERMINAL, 20, a)
    assert done.status == "failed", done
    assert done.exit_code == 3 and done.error == "exit code 3"
    assert done.output == "hi\noops\n"  # stdout and stderr, interleaved
    assert done.start_time is not None and done.end_time is not None
    assert done.duration is not None and done.duration < 10_000

    run = client.trigger_job(fine.id)
    done = wait_run(client, fine.id, run.id, TERMINAL, 20, a)
    assert done.status == "completed" and done.exit_code == 0, done
    assert done.output == f"job={name}-ok\n" and done.error is None

    assert a.stop() == 0, a.stderr()
    log = a.stderr()
    assert f"of {name} started" in log and f"of {name} failed" in log, log
    assert f"of {name}-ok completed" in log and "Traceback" not in log


def test_timeout_kills_the_process_group_with_its_children(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "child.pid"
    # the shell ignores SIGTERM, and so does its child (ignored signals are inherited)
    command = f"trap '' TERM; sleep 1000 & echo $! > {pid_file}; echo started; wait"
    job = client.define_job(name, "0 0 1 1 *", command=command, timeout_seconds=2)
    a = agent(processes, server.url, name, tmp_path)
    run = client.trigger_job(job.id)
    wait_until(pid_file.exists, 20, what="the command's child")
    child = int(wait_until(lambda: pid_file.read_text().strip(), 5, what="the child's pid"))
    started = time.monotonic()

    done = wait_run(client, job.id, run.id, TERMINAL, 20, a)
    assert done.status == "failed", done  # reported in time: not "expired"
    assert done.error == "timed out after 2s"
    assert done.output == "started\n"
    # SIGTERM was ignored: the child is killed by the SIGKILL that follows 5 s later
    wait_until(lambda: pid_gone(child), 20, what=f"the child {child} killed")
    assert time.monotonic() - started < 15
    assert a.stop() == 0, a.stderr()
    assert "SIGKILL" in a.stderr()


def test_sigterm_lets_the_running_command_finish_and_report(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    marker = tmp_path / "began"
    job = client.define_job(
        name, "0 0 1 1 *", command=f"touch {marker}; sleep 2; echo done", timeout_seconds=30
    )
    a = agent(processes, server.url, name, tmp_path)
    run = client.trigger_job(job.id)
    wait_until(marker.exists, 20, what="the command to start")
    assert a.stop(sig=signal.SIGTERM, timeout=40) == 0, a.stderr()
    # reported before the agent exited
    done = client.list_executions(job.id, limit=1)[0]
    assert done.id == run.id and done.status == "completed", done
    assert done.output == "done\n" and done.exit_code == 0
    assert "SIGTERM" in a.stderr() and "agent stopped" in a.stderr()


def test_a_second_signal_ends_the_running_command_and_reports_it(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    marker = tmp_path / "began"
    job = client.define_job(
        name, "0 0 1 1 *", command=f"touch {marker}; sleep 600", timeout_seconds=900
    )
    a = agent(processes, server.url, name, tmp_path)
    run = client.trigger_job(job.id)
    wait_until(marker.exists, 20, what="the command to start")
    a.proc.send_signal(signal.SIGINT)
    wait_until(lambda: "no new runs" in a.stderr(), 10, what="the first signal handled")
    assert a.alive()  # still waiting for the command
    assert a.stop(sig=signal.SIGINT, timeout=30) == 0, a.stderr()
    done = client.list_executions(job.id, limit=1)[0]
    assert done.id == run.id and done.status == "failed", done
    assert done.error is not None and done.error.startswith("interrupted"), done


def test_output_is_capped_keeping_head_and_tail(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    command = "echo FIRST; head -c 300000 /dev/zero | tr '\\0' x; echo; echo LAST"
    job = client.define_job(name, "0 0 1 1 *", command=command)
    a = agent(processes, server.url, name, tmp_path)
    run = client.trigger_job(job.id)
    done = wait_run(client, job.id, run.id, TERMINAL, 20, a)
    assert done.status == "completed", done
    assert done.output is not None
    assert done.output.startswith("FIRST\nxxx") and done.output.endswith("xxx\nLAST\n")
    assert "bytes of output omitted" in done.output
    assert len(done.output.encode()) <= 64 * 1024
    assert a.stop() == 0, a.stderr()


def test_agent_waits_for_the_server_and_retries_its_reports(
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    port = free_port()
    workdir = tmp_path / "own-server"
    workdir.mkdir()
    db = f"sqlite:///{workdir / 'schedo.db'}"
    marker = tmp_path / "began"
    srv = ServerProcess(db, workdir, port=port).start()
    with schedo.Client(ADMIN_KEY, srv.url) as c:
        job = c.define_job(
            name, "0 0 1 1 *", command=f"touch {marker}; sleep 3; echo ok", timeout_seconds=60
        )
    srv.kill()
    # the agent starts while the server is down: nothing listens
    a = agent(processes, f"http://127.0.0.1:{port}", name, tmp_path)
    wait_until(
        lambda: "cannot check the --jobs list" in a.stderr(), 20, what="a failed first request"
    )
    srv = ServerProcess(db, workdir, port=port).start()
    try:
        with schedo.Client(ADMIN_KEY, srv.url) as c:
            run = c.trigger_job(job.id)
            wait_until(marker.exists, 40, what="the command to start")
            # the server goes away while the command runs, and comes back later
            srv.kill()
            wait_until(lambda: "cannot report" in a.stderr(), 20, what="a failed report")
        srv = ServerProcess(db, workdir, port=port).start()
        with schedo.Client(ADMIN_KEY, srv.url) as c:
            done = wait_run(c, job.id, run.id, TERMINAL, 40, a)
            assert done.status == "completed" and done.output == "ok\n", done
        assert a.stop() == 0, a.stderr()
    finally:
        srv.kill()


def test_refused_key_stops_the_agent_with_exit_4(
    server: ServerProcess, processes: list[Process], tmp_path: Path
) -> None:
    a = start(
        processes, ["agent", "--url", server.url, "--key", "sk_wrong_key_000000000000000"], tmp_path
    )
    wait_until(lambda: not a.alive(), 20, what="the agent to exit")
    assert a.proc.returncode == 4, a.stderr()
    assert "Traceback" not in a.stderr()


def test_concurrency_limits_the_commands_run_at_once(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    job = client.define_job(name, "0 0 1 1 *", command="sleep 2; echo done")
    a = agent(processes, server.url, name, tmp_path, "--concurrency", "2")
    runs = [client.trigger_job(job.id) for _ in range(3)]

    def statuses() -> list[str]:
        by_id = {e.id: e.status for e in client.list_executions(job.id)}
        return [by_id[r.id] for r in runs]

    wait_until(lambda: statuses().count("running") == 2, 20, what="two runs running")
    assert statuses().count("pending") == 1  # the third waits for a free slot
    for r in runs:
        done = wait_run(client, job.id, r.id, TERMINAL, 30, a)
        assert done.status == "completed" and done.output == "done\n", done
    assert a.stop() == 0, a.stderr()


def test_jobs_that_are_not_command_jobs_are_a_usage_error(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    """``--jobs`` naming an sdk job, a push job or no job at all: exit 2 naming each of
    them (the agent would never be handed their runs), instead of sitting idle."""
    client.define_job(name + "-cmd", "0 0 1 1 *", command="true")
    client.define_job(name + "-sdk", "0 0 1 1 *")
    client.define_job(name + "-push", "0 0 1 1 *", webhook_url="https://example.com/hook")
    names = f"{name}-cmd,{name}-sdk,{name}-push,{name}-nope"
    a = agent(processes, server.url, names, tmp_path)
    wait_until(lambda: not a.alive(), 30, what="the agent to exit")
    assert a.proc.returncode == 2, a.stderr()
    last = a.stderr().strip().splitlines()[-1]
    assert last == (
        f"schedo: --jobs: '{name}-nope': no such job in this environment; "
        f"'{name}-push' is a push job, not a command job; "
        f"'{name}-sdk' is an sdk job, not a command job"
    ), a.stderr()
    assert "Traceback" not in a.stderr()
    # command jobs alone are fine
    ok = agent(processes, server.url, f"{name}-cmd", tmp_path)
    wait_until(lambda: "pulling command runs" in ok.stderr(), 20, what="the agent pulling")
    assert ok.stop() == 0, ok.stderr()


def test_output_that_is_not_utf8_is_reported_with_replacement_characters(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    """Latin-1 bytes on stdout: the run completes with U+FFFD where they were (the report is
    not dropped, the run does not expire)."""
    job = client.define_job(name, "0 0 1 1 *", command="printf 'caf\\351 \\377\\n'")
    a = agent(processes, server.url, name, tmp_path)
    run = client.trigger_job(job.id)
    done = wait_run(client, job.id, run.id, TERMINAL, 20, a)
    assert done.status == "completed" and done.output == "caf\ufffd \ufffd\n", done
    assert a.stop() == 0, a.stderr()
    assert "dropped" not in a.stderr()
