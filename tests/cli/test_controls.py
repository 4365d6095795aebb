"""Scheduling controls on the command line (issue 20) against a real server:
``jobs pause --until``, ``jobs skip``, ``jobs trigger --payload/--payload-file``,
``jobs backfill`` and ``rerun``; each one's success and its errors (exit 1 with the
server's message, exit 2 for bad input caught before sending)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import Result

import schedo
from tests.cli.conftest import Cli


def _define(client: schedo.Client, name: str, schedule: str = "0 3 * * *") -> schedo.Job:
    return client.define_job(name, schedule, command="echo hi")


def _error(r: Result, code: int, *words: str) -> None:
    assert r.exit_code == code, (r.stdout, r.stderr)
    err = r.stderr.strip()
    assert err.startswith("schedo: ") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and r.stdout == "", err
    for w in words:
        assert w in err, err


def test_pause_until(cli: Cli, client: schedo.Client, name: str) -> None:
    job = _define(client, name)
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    r = cli("jobs", "pause", name, "--until", until.isoformat().replace("+00:00", "Z"))
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == (f"Paused job {name} (id {job.id}) until "
                                f"{until.strftime('%Y-%m-%d %H:%M:%SZ')}")
    got = client.get_job(job.id).job
    assert got.paused and got.raw["paused_until"] is not None

    r = cli("jobs", "pause", str(job.id), "--until", str(int(until.timestamp()) + 60), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["paused_until"] is not None

    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    _error(cli("jobs", "pause", name, "--until", past), 1, "HTTP 400")
    _error(cli("jobs", "pause", name, "--until", "2026-12-01T10:00"), 2, "offset")
    _error(cli("jobs", "pause", name, "--until", "tomorrow"), 2, "--until")


def test_skip(cli: Cli, client: schedo.Client, name: str) -> None:
    job = _define(client, name)
    r = cli("jobs", "skip", name, "3")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"Skipping the next 3 scheduled runs of job {name} (id {job.id})")
    assert client.get_job(job.id).job.raw["skip_next"] == 3

    r = cli("jobs", "skip", name, "0", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["skip_next"] == 0

    _error(cli("jobs", "skip", name, "1001"), 1, "HTTP 4")
    assert client.get_job(job.id).job.raw["skip_next"] == 0  # refused: nothing changed


def test_trigger_with_payload(cli: Cli, client: schedo.Client, name: str,
                              tmp_path: Path) -> None:
    job = _define(client, name)
    r = cli("jobs", "trigger", name, "--payload", '{"k": 1, "who": "cli"}', "--json")
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)
    assert run["payload"] == {"k": 1, "who": "cli"} and run["trigger"] == "manual"

    f = tmp_path / "p.json"
    f.write_text('{"from": "file"}', encoding="utf-8")
    r = cli("jobs", "trigger", name, "--payload-file", str(f))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"Triggered job {name} (id {job.id}): run ")
    newest = client.list_executions(job.id, limit=1)[0]
    assert newest.payload == {"from": "file"}

    before = len(client.list_executions(job.id))
    _error(cli("jobs", "trigger", name, "--payload", '{"k": 1'), 2, "--payload: not valid JSON")
    _error(cli("jobs", "trigger", name, "--payload", "[1, 2]"), 2, "JSON object")
    _error(cli("jobs", "trigger", name, "--payload-file", str(tmp_path / "none.json")), 2,
           "cannot read")
    _error(cli("jobs", "trigger", name, "--payload", "{}", "--payload-file", str(f)), 2, "both")
    big = json.dumps({"x": "a" * 70_000})
    _error(cli("jobs", "trigger", name, "--payload", big), 1, "HTTP 413")
    assert len(client.list_executions(job.id)) == before  # nothing was started


def test_backfill(cli: Cli, client: schedo.Client, name: str) -> None:
    job = _define(client, name, "0 * * * *")
    r = cli("jobs", "backfill", name, "--from", "2026-01-01T00:00:00Z",
            "--to", "2026-01-01T03:00:00Z", "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert (got["instants"], got["created"]) == (4, 4)
    assert {e["trigger"] for e in got["executions"]} == {"backfill"}

    r = cli("jobs", "backfill", str(job.id), "--from", "2026-01-01T02:00:00Z",
            "--to", "2026-01-01T05:00:00+00:00")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == (f"Backfilled job {name} (id {job.id}): 2 runs created for 4 instants "
                        "from 2026-01-01 02:00:00Z to 2026-01-01 05:00:00Z")
    assert [ln.split(" for ")[1] for ln in lines if "created run" in ln] == [
        "2026-01-01 04:00:00Z (pending)", "2026-01-01 05:00:00Z (pending)"]
    assert "  2 instants already had a run:" in lines
    assert [ln.strip() for ln in lines if ln.strip().startswith("exists")] == [
        "exists 2026-01-01 02:00:00Z", "exists 2026-01-01 03:00:00Z"]

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    _error(cli("jobs", "backfill", name, "--from", "2026-01-01T00:00:00Z", "--to", future),
           1, "HTTP 400")
    _error(cli("jobs", "backfill", name, "--from", "yesterday", "--to", future), 2, "--from")


def test_rerun(cli: Cli, client: schedo.Client, name: str) -> None:
    job = _define(client, name)
    first = client.trigger_job(job.id)
    _error(cli("rerun", str(first.id)), 1, "HTTP 409")  # still pending

    client.cancel_execution(first.id)
    r = cli("rerun", str(first.id))
    assert r.exit_code == 0, r.output
    again = client.list_executions(job.id, limit=1)[0]
    assert again.id != first.id and again.trigger == "rerun" and again.attempt == 2
    assert r.stdout.startswith(f"Rerun of run {first.id} of {name}: run {again.id} (pending, "
                               "attempt 2")
    _error(cli("rerun", "99999999"), 3)
