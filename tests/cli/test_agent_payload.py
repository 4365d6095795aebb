"""``schedo agent`` hands a manual trigger's payload to the command as ``$SCHEDO_PAYLOAD``
(compact JSON), and leaves the variable unset without one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import schedo
from tests.cli.conftest import TERMINAL, Process, agent, wait_run
from tests.support.server import ServerProcess


def test_the_command_gets_the_payload_as_json(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    job = client.define_job(name, "0 0 1 1 *", command='printf %s "${SCHEDO_PAYLOAD-unset}"')
    a = agent(processes, server.url, name, tmp_path)
    run = client.trigger_job(job.id, payload={"file": "a b.csv", "n": [1, 2]})
    assert run.payload == {"file": "a b.csv", "n": [1, 2]}
    done = wait_run(client, job.id, run.id, TERMINAL, 20, a)
    assert done.status == "completed", done
    assert json.loads(done.output or "") == {"file": "a b.csv", "n": [1, 2]}
    run = client.trigger_job(job.id)
    done = wait_run(client, job.id, run.id, TERMINAL, 20, a)
    assert done.output == "unset"
    assert a.stop() == 0, a.stderr()


def test_the_client_drives_the_scheduling_controls(client: schedo.Client, name: str) -> None:
    """The SDK's Client sends every control the server knows and reads them back."""
    now = datetime.now(UTC)
    job = client.define_job(name, "H H(0-5) * * *", jitter_seconds=30, skip_next=2,
                            paused_until=now + timedelta(days=3))
    assert job.cron_expression == "H H(0-5) * * *" and "H" not in job.resolved_cron
    assert (job.jitter_seconds, job.skip_next, job.paused) == (30, 2, True)
    assert job.paused_until is not None and job.paused_until > now + timedelta(days=2)
    assert client.skip_next(job.id, 0).skip_next == 0
    resumed = client.resume_job(job.id)
    assert (resumed.paused, resumed.paused_until) == (False, None)
    timed = client.pause_job(job.id, until=now + timedelta(hours=2))
    assert timed.paused and timed.paused_until is not None
    created = client.backfill_job(job.id, now - timedelta(days=3), now - timedelta(minutes=1))
    assert len(created) in (2, 3) and {e.trigger for e in created} == {"backfill"}
    run = client.trigger_job(job.id)
    client.complete_execution(run.id, success=False, error="bad input")
    again = client.rerun_execution(run.id)
    assert (again.scheduled_for, again.attempt, again.trigger) == (
        run.scheduled_for, run.attempt + 1, "rerun")


def test_the_client_sets_overlap_and_several_schedules(client: schedo.Client, name: str) -> None:
    job = client.define_job(name, "0 9 * * *", crons=["0 18 * * *"], overlap="allow",
                            max_concurrency=3)
    assert (job.overlap, job.max_concurrency, job.blocking, job.crons) == (
        "allow", 3, False, ("0 18 * * *",))
    once = client.define_job(name + "-once", "@at 2199-01-01T00:00:00Z", overlap="buffer_one")
    assert (once.overlap, once.blocking) == ("buffer_one", True)
    assert once.next_run_at is not None and once.next_run_at.year == 2199
