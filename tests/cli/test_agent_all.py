"""Target mode "all" end to end (issue 21): a real ``schedo serve`` and two real ``schedo
agent`` processes announcing different hosts (``--host``) and the same tag. One tick of
the job runs the command on both hosts: two runs of the same instant, each completed by the
agent of its host and showing that host (``target_host``, ``schedo runs``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

import schedo
from schedo import Execution
from tests.cli.conftest import Cli, Process, agent
from tests.support.server import ServerProcess, wait_until


def test_one_tick_runs_on_every_agent_with_the_tag(
    server: ServerProcess,
    client: schedo.Client,
    cli: Cli,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    target = {"tags": ["fleet"], "mode": "all"}
    job = client.define_job(name, "0 0 1 1 *", command="echo ran on $SCHEDO_JOB_NAME",
                            target=target)
    agents = {host: agent(processes, server.url, name, tmp_path, "--host", host,
                          "--tag", "fleet", "--tag", "eu")
              for host in ("host-a", "host-b")}
    # both agents pulled (their heartbeats carry host and tags) before the job ticks
    wait_until(lambda: client.connections_count(job.id) == 2, 20, what="two agents")
    client.define_job(name, "*/2 * * * * *", command="echo ran on $SCHEDO_JOB_NAME",
                      target=target)  # every 2 seconds from now

    def one_tick_on_both() -> list[Execution] | None:
        for host, p in agents.items():
            assert p.alive(), f"agent {host} exited:\n{p.stderr()}"
        ticks: dict[datetime | None, list[Execution]] = defaultdict(list)
        for e in client.list_executions(job.id, limit=200):
            if e.trigger == "schedule" and e.status == "completed":
                ticks[e.scheduled_for].append(e)
        both = [runs for runs in ticks.values()
                if sorted(e.target_host or "" for e in runs) == ["host-a", "host-b"]]
        return both[0] if both else None

    runs = wait_until(one_tick_on_both, 30, interval=0.2, what="one tick completed on both")
    client.pause_job(job.id)
    for e in runs:
        assert e.output == f"ran on {name}\n" and e.exit_code == 0, e
        # the run of host-a was taken by the agent announcing host-a, and so for host-b
        assert e.worker == f"agent-{e.target_host}-{agents[e.target_host or ''].pid}", e
    assert len({e.id for e in runs}) == 2 and runs[0].attempt == runs[1].attempt == 1
    # every tick has at most one run per host
    seen: dict[tuple[datetime | None, str | None], int] = defaultdict(int)
    for e in client.list_executions(job.id, limit=200):
        if e.trigger == "schedule":
            seen[(e.scheduled_for, e.target_host)] += 1
    assert set(seen.values()) == {1}, seen
    # schedo runs shows the host of each run
    shown = cli("runs", name, "--limit", "20")
    assert shown.exit_code == 0, shown.output
    assert "HOST" in shown.output and "host-a" in shown.output and "host-b" in shown.output
    for p in agents.values():
        assert p.stop() == 0, p.stderr()
