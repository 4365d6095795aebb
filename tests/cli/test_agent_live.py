"""``schedo agent`` and runs while they run (issue 21), real processes: a cancelled command's
whole process group is ended and nothing is reported over the cancellation; the command's
output streams to the run's live log while it runs; ``schedo cancel`` and the run's worker.
"""

from __future__ import annotations

import socket
from pathlib import Path

import schedo
from tests.cli.conftest import Cli, Process, agent, wait_run
from tests.cli.test_agent import pid_gone
from tests.support.server import ServerProcess, wait_until


def test_cancel_ends_the_process_group_and_the_output_streams_live(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
    cli: Cli,
) -> None:
    pidfile = tmp_path / "pid"
    job = client.define_job(
        name, "0 0 1 1 *", timeout_seconds=300,
        command=f"echo $$ > {pidfile}; echo one; sleep 0.3; echo two; sleep 100 & wait",
    )
    a = agent(processes, server.url, name, tmp_path)
    run = client.trigger_job(job.id)
    held = wait_run(client, job.id, run.id, {"running"}, 20, a)
    assert held.worker == f"agent-{socket.gethostname()}-{a.pid}"
    wait_until(lambda: [x.line for x in client.read_log(run.id).lines] == ["one", "two"], 10,
               what="the command's output in the live log while it runs")
    pgid = int(pidfile.read_text())
    out = cli("cancel", str(run.id), "--reason", "from the test")
    assert out.exit_code == 0 and f"Cancelled run {run.id}" in out.stdout, out
    wait_until(lambda: pid_gone(pgid), 15, what="the command's process group to end")
    wait_until(lambda: f"run {run.id} of {name} cancelled" in a.stderr(), 10,
               what="the agent's log line")
    [e] = [x for x in client.list_executions(job.id) if x.id == run.id]
    assert e.status == "cancelled" and e.error == "cancelled on request: from the test"
    shown = cli("log", str(run.id), "--follow")  # the run has ended: prints and returns
    assert shown.exit_code == 0 and shown.stdout.startswith("one\ntwo\n"), shown.output
    again = cli("cancel", str(run.id))
    assert again.exit_code != 0 and "already ended as cancelled" in again.stderr
    assert a.alive()


def test_agents_run_only_the_jobs_their_host_and_tags_match(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
    cli: Cli,
) -> None:
    on_db = client.define_job(name + "-db", "0 0 1 1 *", command="echo db",
                              target={"tags": ["db"], "mode": "any"})
    on_b = client.define_job(name + "-b", "0 0 1 1 *", command="echo b",
                             target={"host": "host-b"})
    codes = f"{name}-db,{name}-b"
    a = agent(processes, server.url, codes, tmp_path, "--tag", "db", "--tag", "eu",
              "--host", "host-a")
    b = agent(processes, server.url, codes, tmp_path, "--tag", "web", "--host", "host-b")
    for _ in range(2):  # each run, twice: never the other agent
        runs = {j.id: client.trigger_job(j.id) for j in (on_db, on_b)}
        for job_id, run in runs.items():
            done = wait_run(client, job_id, run.id, {"completed"}, 20)
            want, host = (a, "host-a") if job_id == on_db.id else (b, "host-b")
            assert done.worker == f"agent-{host}-{want.pid}", done  # the announced host
    shown = cli("jobs", "show", on_b.name)
    assert "host host-b" in shown.stdout and f"agent-host-b-{b.pid}" in shown.stdout, (
        shown.stdout)
    bad = cli("agent", "--tag", "Not Good")
    assert bad.exit_code == 2 and "--tag" in bad.stderr
    crontab = tmp_path / "crontab"
    crontab.write_text("0 3 * * * echo hi\n")
    out = cli("import-crontab", str(crontab), "--prefix", name, "--json")
    assert out.exit_code == 0, out.output
    imported = [j for j in client.list_jobs() if j.name.startswith(name + "-")
                and j.id not in (on_db.id, on_b.id)]
    assert len(imported) == 1 and imported[0].target == {"host": socket.gethostname()}
