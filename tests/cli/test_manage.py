"""``schedo jobs|runs|env|keys|emails`` against a real server: tables, ``--json`` and the
documented exit codes (0 ok, 1 API error, 2 usage, 3 not found, 4 auth, 5 unreachable)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from typer.testing import Result

import schedo
from schedo.sdk.errors import NotFound
from tests.cli.conftest import Cli, Process, start
from tests.support.server import ADMIN_KEY, ServerProcess, free_port, wait_until


def _define(client: schedo.Client, name: str, **options: object) -> schedo.Job:
    options.setdefault("command", "echo hi")
    return client.define_job(name, "0 3 * * *", **options)  # type: ignore[arg-type]


def _one_line_error(result: Result, word: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("schedo: "), result.stderr
    assert word in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# -- jobs --------------------------------------------------------------------------------------


def test_jobs_ls_table_and_json(cli: Cli, client: schedo.Client, name: str) -> None:
    job = _define(client, name, timezone="Europe/Berlin")
    client.pause_job(job.id)

    r = cli("jobs", "ls")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "TYPE",
        "SCHEDULE",
        "STATUS",
        "FLAGS",
        "NEXT",
        "RUN",
        "LAST",
        "RUN",
    ]
    row = next(line for line in lines if f" {name} " in line)
    assert row.split()[:3] == [str(job.id), name, "command"]
    assert "0 3 * * * (Europe/Berlin)" in row and "pending" in row and "paused" in row
    assert "\x1b[" not in r.stdout  # no colour codes when stdout is not a terminal

    r = cli("jobs", "ls", "--json")
    assert r.exit_code == 0, r.output
    listed = {j["name"]: j for j in json.loads(r.stdout)}
    assert listed[name]["id"] == job.id
    assert listed[name]["command"] == "echo hi" and listed[name]["paused"] is True


def test_statuses_are_coloured_on_a_terminal(cli: Cli, client: schedo.Client, name: str) -> None:
    _define(client, name)
    r = cli("jobs", "ls", env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "\x1b[" in r.stdout and "pending" in r.stdout and name in r.stdout


def test_jobs_show_by_name_and_by_id(cli: Cli, client: schedo.Client, name: str) -> None:
    job = _define(client, name, timeout_seconds=90, metadata={"team": "ops"})
    for ref in (name, str(job.id)):
        r = cli("jobs", "show", ref)
        assert r.exit_code == 0, r.output
        fields = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)
        assert fields["id"].strip() == str(job.id)
        assert fields["name"].strip() == name
        assert fields["timeout"].strip() == "90s"
        assert fields["command"].strip() == "echo hi"
        assert '"team": "ops"' in fields["metadata"]

    client.trigger_job(job.id)
    r = cli("jobs", "show", name, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc) == {"connections_count", "job", "last_run"}
    assert doc["job"]["name"] == name and doc["job"]["timeout_seconds"] == 90
    assert doc["last_run"]["trigger"] == "manual"


def test_a_numeric_job_name_is_found_by_name(cli: Cli, client: schedo.Client) -> None:
    numeric = str(10_000_000 + int.from_bytes(Path(__file__).name.encode()[:2], "big"))
    job = _define(client, numeric)
    r = cli("jobs", "show", numeric, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["job"]["id"] == job.id
    client.delete_job(job.id)


def test_trigger_then_runs_with_limit(cli: Cli, client: schedo.Client, name: str) -> None:
    job = _define(client, name)
    triggered = []
    for _ in range(3):
        r = cli("jobs", "trigger", name, "--json")
        assert r.exit_code == 0, r.output
        triggered.append(json.loads(r.stdout))
    assert all(t["trigger"] == "manual" and t["job_id"] == job.id for t in triggered)
    r = cli("jobs", "trigger", str(job.id))
    assert r.exit_code == 0 and f"Triggered job {name} (id {job.id})" in r.stdout, r.output

    r = cli("runs", name, "--limit", "2", "--json")
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)
    assert len(runs) == 2 and runs[0]["id"] > runs[1]["id"]  # newest first
    assert runs[1]["id"] == triggered[2]["id"]

    r = cli("runs", name)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "STATUS", "TRIGGER"]
    assert len(lines) == 1 + 4 and all("manual" in line for line in lines[1:])

    r = cli("runs", name, "--limit", "0")
    assert r.exit_code == 2, r.output  # usage error


def test_pause_resume_mute_unmute(cli: Cli, client: schedo.Client, name: str) -> None:
    job = _define(client, name)
    r = cli("jobs", "pause", name)
    assert r.exit_code == 0 and r.stdout.strip() == f"Paused job {name} (id {job.id})", r.output
    assert client.get_job(job.id).job.paused and client.get_job(job.id).job.next_run_at is None

    r = cli("jobs", "resume", name, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["paused"] is False and not client.get_job(job.id).job.paused

    r = cli("jobs", "mute", str(job.id))
    assert r.exit_code == 0 and r.stdout.startswith("Muted job"), r.output
    assert client.get_job(job.id).job.muted

    r = cli("jobs", "unmute", name, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["muted"] is False, r.output
    assert not client.get_job(job.id).job.muted


def test_rm_needs_yes_without_a_terminal(cli: Cli, client: schedo.Client, name: str) -> None:
    job = _define(client, name)
    r = cli("jobs", "rm", name)
    assert r.exit_code == 2, r.output
    _one_line_error(r, "--yes")
    assert client.get_job(job.id).job.name == name  # still there

    r = cli("jobs", "rm", name, "--yes", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["deleted"] is True and doc["job"]["id"] == job.id
    with pytest.raises(NotFound):
        client.get_job(job.id)

    r = cli("jobs", "rm", name, "--yes")
    assert r.exit_code == 3, r.output


# -- exit codes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("jobs", "show", "no-such-job-anywhere"),
        ("jobs", "trigger", "999999"),
        ("jobs", "pause", "no-such-job-anywhere"),
        ("runs", "no-such-job-anywhere"),
        ("keys", "revoke", "999999"),
        ("env", "rm", "999999"),
    ],
)
def test_unknown_ids_and_names_exit_3(cli: Cli, args: tuple[str, ...]) -> None:
    r = cli(*args)
    assert r.exit_code == 3, r.output
    _one_line_error(r, "")


def test_bad_key_exits_4(cli: Cli) -> None:
    r = cli("jobs", "ls", key="sk_not_a_real_key_0000000000000000")
    assert r.exit_code == 4, r.output
    _one_line_error(r, "401")


def test_environment_key_on_an_admin_route_exits_4(cli: Cli, client: schedo.Client) -> None:
    env_key = client.create_api_key(1, "cli-env-key").key
    r = cli("env", "ls", key=env_key)
    assert r.exit_code == 4, r.output
    _one_line_error(r, "403")
    assert cli("jobs", "ls", key=env_key).exit_code == 0  # but it may list its jobs


def test_server_down_exits_5(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (("jobs", "ls"), ("jobs", "show", "x-job"), ("runs", "x-job"), ("emails", "ls")):
        r = cli.raw(*args, "--url", url, "--key", ADMIN_KEY)
        assert r.exit_code == 5, r.output
        _one_line_error(r, "cannot reach the server")


def test_usage_errors_exit_2(cli: Cli) -> None:
    r = cli.raw("jobs", "ls", "--url", cli.server.url)  # no key anywhere
    assert r.exit_code == 2, r.output
    _one_line_error(r, "--key")
    r = cli.raw("jobs", "ls", "--url", "ftp://example.com", "--key", ADMIN_KEY)
    assert r.exit_code == 2, r.output
    assert cli("jobs", "ls", "--no-such-option").exit_code == 2
    assert cli("jobs", "ls", "--env", "zero").exit_code == 2


def test_options_come_from_the_environment(cli: Cli, client: schedo.Client, name: str) -> None:
    _define(client, name)
    r = cli.raw(
        "jobs",
        "show",
        name,
        "--json",
        env={"SCHEDO_BASE_URL": cli.server.url, "SCHEDO_API_KEY": ADMIN_KEY},
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["job"]["name"] == name


def test_api_refusal_exits_1(cli: Cli) -> None:
    r = cli("emails", "add", "not an address")
    assert r.exit_code == 1, r.output
    _one_line_error(r, "email")
    r = cli("env", "create", "   ")
    assert r.exit_code == 1, r.output
    _one_line_error(r, "name")


# -- environments, keys, emails ----------------------------------------------------------------


def test_env_round_trip(cli: Cli, client: schedo.Client, name: str) -> None:
    r = cli("env", "create", name, "--json")
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["name"] == name and created["webhook_signature_key"]

    r = cli("env", "ls")
    assert r.exit_code == 0, r.output
    assert any(line.split()[:2] == [str(created["id"]), name] for line in r.stdout.splitlines())

    # --env picks the environment: a job defined there is listed only there
    r = cli("jobs", "ls", "--env", str(created["id"]), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == [], r.output

    r = cli("env", "rm", str(created["id"]))
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == f"Deleted environment {name} (id {created['id']})"
    r = cli("env", "ls", "--json")
    assert created["id"] not in {e["id"] for e in json.loads(r.stdout)}
    assert cli("env", "rm", str(created["id"])).exit_code == 3


def test_keys_round_trip(cli: Cli, client: schedo.Client, name: str) -> None:
    env_id = client.create_environment(name).id
    r = cli("keys", "create", "deploy-bot", "--env", str(env_id))
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip()
    assert len(r.stdout.splitlines()) == 1 and len(secret) >= 16  # the key alone on stdout
    assert "only time" in r.stderr

    # the new key works, in its own environment
    job = client.define_job(name, "0 1 * * *")  # environment 1: invisible to the new key
    r = cli("jobs", "ls", "--json", key=secret)
    assert r.exit_code == 0 and json.loads(r.stdout) == [], r.output

    # an environment key creates keys in its own environment without --env
    r = cli("keys", "create", "second", "--json", key=secret)
    assert r.exit_code == 0, r.output
    second = json.loads(r.stdout)
    assert second["environment_id"] == env_id and len(second["key"]) >= 16

    r = cli("keys", "ls", "--env", str(env_id), "--json")
    assert r.exit_code == 0, r.output
    listed = {k["name"]: k for k in json.loads(r.stdout)}
    assert set(listed) == {"deploy-bot", "second"}
    assert secret not in r.stdout  # only prefixes after creation

    r = cli("keys", "ls", "--env", str(env_id))
    assert r.exit_code == 0 and "active" in r.stdout, r.output

    r = cli("keys", "revoke", str(listed["deploy-bot"]["id"]))
    assert r.exit_code == 0 and r.stdout.startswith("Revoked key deploy-bot"), r.output
    r = cli("jobs", "ls", key=secret)
    assert r.exit_code == 4, r.output
    r = cli("keys", "ls", "--env", str(env_id), "--json")
    assert {k["name"]: k["revoked"] for k in json.loads(r.stdout)} == {
        "deploy-bot": True,
        "second": False,
    }
    client.delete_job(job.id)
    client.delete_environment(env_id)


def test_keys_create_defaults_to_the_first_environment(cli: Cli) -> None:
    r = cli("keys", "create", "default-env", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["environment_id"] == 1


def test_emails_round_trip(cli: Cli, name: str) -> None:
    address = f"{name}@example.com"
    r = cli("emails", "add", address, "--json")
    assert r.exit_code == 0 and address in json.loads(r.stdout), r.output
    r = cli("emails", "ls")
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "EMAIL", r.output
    assert address in r.stdout.splitlines()
    r = cli("emails", "rm", address, "--json")
    assert r.exit_code == 0 and address not in json.loads(r.stdout), r.output
    r = cli("emails", "ls", "--json")
    assert address not in json.loads(r.stdout)


# -- runs --follow (a real process: it runs until Ctrl-C) --------------------------------------


def test_runs_follow_prints_new_and_changed_runs_until_ctrl_c(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    job = _define(client, name)
    older = client.trigger_job(job.id)
    shown = client.trigger_job(job.id)
    follow = start(
        processes,
        [
            "runs",
            name,
            "--follow",
            "--limit",
            "1",
            "--json",
            "--url",
            server.url,
            "--key",
            ADMIN_KEY,
        ],
        tmp_path,
    )

    def lines() -> list[dict[str, object]]:
        return [json.loads(line) for line in follow.stdout().splitlines() if line.strip()]

    def printed(run_id: int, status: str) -> bool:
        return any(d["id"] == run_id and d["status"] == status for d in lines())

    wait_until(lambda: printed(shown.id, "pending"), 15, what="the latest run")
    new = client.trigger_job(job.id)
    wait_until(lambda: printed(new.id, "pending"), 15, what="the new run")
    # a change of state is printed again, also for a run older than those shown at first
    client.complete_execution(new.id, False, error="boom", exit_code=7)
    client.complete_execution(older.id, True, output="ok")
    wait_until(lambda: printed(new.id, "failed"), 15, what="the changed run")
    wait_until(lambda: printed(older.id, "completed"), 15, what="the changed older run")
    assert follow.stop(signal.SIGINT, timeout=15) == 0, follow.stderr()
    assert "Traceback" not in follow.stderr()
    ids = [d["id"] for d in lines()]
    assert ids[0] == shown.id and ids.count(shown.id) == 1  # unchanged: printed once
    assert ids.count(older.id) == 1  # not shown at first (--limit 1), printed when it changed


def test_runs_follow_table_lines(
    server: ServerProcess,
    client: schedo.Client,
    name: str,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    job = _define(client, name)
    run = client.trigger_job(job.id)
    follow = start(
        processes, ["runs", str(job.id), "-f", "--url", server.url, "--key", ADMIN_KEY], tmp_path
    )
    wait_until(lambda: f"run {run.id}" in follow.stdout(), 15, what="the run's line")
    line = next(x for x in follow.stdout().splitlines() if f"run {run.id}" in x)
    assert "pending" in line and "manual attempt 1" in line
    assert follow.stop(signal.SIGINT, timeout=15) == 0, follow.stderr()
