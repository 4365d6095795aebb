"""``schedo import-crontab``: every kind of crontab line, imported into a real server (the
result is checked through the API), and the imported commands run by a real agent."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import schedo
from schedo.cli.crontab import job_name, parse, slug
from tests.cli.conftest import TERMINAL, Cli, Process, agent, wait_run

LONG = "echo " + "x" * 300
HUGE = "echo " + "y" * 9000
SAMPLE = rf"""# m h dom mon dow command
   # an indented comment

SHELL=/bin/sh
PATH=/usr/local/bin:/usr/bin:/bin
GREETING = "it's a $HOME test"
MAILTO=ops@example.com
*/15 * * * * /usr/local/bin/poll.sh --fast
0 9-17 * * 1-5 echo "work hours"
0 0,12 1,15 * * echo twice
30 6 * JAN,JUL MON echo names
@daily /usr/bin/backup.sh
@reboot /usr/bin/start-on-boot.sh
0 5 * * * date +\%Y-\%m-\%d > /tmp/date.txt
0 6 * * * mail -s hi root%body line%
this is garbage
0 7 * * * echo continued \
  more
0 9 * * * echo dup
0 21 * * * echo dup
0 9 * * * echo dup
61 * * * * echo bad minute
@weird echo x
0 8 * * * {LONG}
0 8 * * * {HUGE}
0 1 * * *
CRON_TZ=America/New_York
0 10 * * * echo in new york # not a comment
@hourly	echo	tabs
"""


def imported(client: schedo.Client, prefix: str) -> dict[str, schedo.Job]:
    return {j.name: j for j in client.list_jobs() if j.name.startswith(prefix + "-")}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"crontab-{uuid.uuid4().hex[:6]}"
    path.write_text(text)
    return path


def test_sample_crontab_imports_as_expected(
    cli: Cli, client: schedo.Client, tmp_path: Path
) -> None:
    prefix = f"ct{uuid.uuid4().hex[:6]}"
    path = write(tmp_path, SAMPLE)
    r = cli(
        "import-crontab", str(path), "--prefix", prefix, "--timezone", "Europe/Berlin", "--json"
    )
    assert r.exit_code == 2, r.output  # some lines could not be parsed
    doc = json.loads(r.stdout)
    by_line = {e["line"]: e for e in doc["entries"]}
    status = {n: e["status"] for n, e in by_line.items()}
    assert status == {
        7: "skipped",  # MAILTO
        8: "defined",
        9: "defined",
        10: "defined",
        11: "defined",
        12: "defined",
        13: "skipped",  # @reboot
        14: "defined",  # \% is a literal %
        15: "skipped",  # unescaped %
        16: "error",  # garbage
        17: "error",
        18: "error",  # a continuation line, and its orphan
        19: "defined",
        20: "defined",
        21: "defined",  # duplicates
        22: "error",  # minute 61: refused by the server
        23: "error",  # @weird
        24: "defined",  # long command
        25: "error",  # too long for the server
        26: "error",  # no command
        28: "defined",  # after CRON_TZ
        29: "defined",  # tabs
    }
    assert "@reboot" in by_line[13]["warnings"][0]
    assert "MAILTO" in by_line[7]["warnings"][0]
    assert "%" in by_line[15]["warnings"][0]
    assert (
        by_line[22]["error"].startswith("schedule: minute") and "(HTTP 400)" in by_line[22]["error"]
    )
    assert "line 19" in by_line[21]["warnings"][0]
    assert "continuation" in by_line[17]["error"]

    jobs = imported(client, prefix)
    defined = [e for e in doc["entries"] if e["status"] == "defined"]
    assert {e["name"] for e in defined} == set(jobs)
    assert len(jobs) == 12
    exports = (
        "export SHELL='/bin/sh'; export PATH='/usr/local/bin:/usr/bin:/bin'; "
        "export GREETING='it'\"'\"'s a $HOME test'; "
    )
    for e in defined:
        job = jobs[e["name"]]
        assert e["job"]["id"] == job.id
        assert job.type == "command" and job.cron_expression == e["schedule"]
        assert job.command == exports + e["cron_command"]
        assert job.timeout_seconds == 3600 and job.catch_up == "none"
        assert len(job.name) <= 200 and "," not in job.name and len(job.name) >= 4
        assert job.name.startswith(prefix + "-")
        assert len(job.name) - len(prefix) - 1 <= 40 + 1 + 6 + 2  # slug, hash, "-n"
    expected = {
        8: ("*/15 * * * *", "/usr/local/bin/poll.sh --fast", "Europe/Berlin"),
        9: ("0 9-17 * * 1-5", 'echo "work hours"', "Europe/Berlin"),
        10: ("0 0,12 1,15 * *", "echo twice", "Europe/Berlin"),
        11: ("30 6 * JAN,JUL MON", "echo names", "Europe/Berlin"),
        12: ("@daily", "/usr/bin/backup.sh", "Europe/Berlin"),
        14: ("0 5 * * *", "date +%Y-%m-%d > /tmp/date.txt", "Europe/Berlin"),
        24: ("0 8 * * *", LONG, "Europe/Berlin"),
        28: ("0 10 * * *", "echo in new york # not a comment", "America/New_York"),
        29: ("@hourly", "echo\ttabs", "America/New_York"),  # CRON_TZ still applies
    }
    for line, (schedule, command, zone) in expected.items():
        job = jobs[by_line[line]["name"]]
        assert (job.cron_expression, job.timezone) == (schedule, zone), line
        assert job.command == exports + command, line
    # the names: stable, from the command; duplicates numbered in file order
    assert by_line[8]["name"] == job_name(prefix, "/usr/local/bin/poll.sh --fast")
    assert by_line[8]["name"].startswith(f"{prefix}-poll-sh-fast-")
    dup = job_name(prefix, "echo dup")
    assert [by_line[n]["name"] for n in (19, 20, 21)] == [dup, dup + "-2", dup + "-3"]
    assert len(by_line[24]["name"]) == len(prefix) + 1 + 40 + 1 + 6


def test_reimport_updates_in_place_and_table_output(
    cli: Cli, client: schedo.Client, tmp_path: Path
) -> None:
    prefix = f"ct{uuid.uuid4().hex[:6]}"
    first = write(tmp_path, "0 1 * * * /usr/bin/report.sh --daily\n@weekly echo weekly\n")
    r = cli("import-crontab", str(first), "--prefix", prefix, "--timezone", "UTC")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["LINE", "NAME", "SCHEDULE", "COMMAND", "RESULT"]
    assert "defined" in lines[1] and "report.sh" in lines[1]
    assert lines[-1] == "2 job(s) defined, 0 line(s) skipped, 0 error(s)"
    before = imported(client, prefix)

    # moved lines and a changed schedule: the same jobs, updated
    second = write(
        tmp_path, "# moved\n\n@weekly echo weekly\n30 2 * * * /usr/bin/report.sh --daily\n"
    )
    r = cli("import-crontab", str(second), "--prefix", prefix, "--timezone", "UTC", "--json")
    assert r.exit_code == 0, r.output
    after = imported(client, prefix)
    assert set(after) == set(before)
    assert {n: j.id for n, j in after.items()} == {n: j.id for n, j in before.items()}
    report = next(j for j in after.values() if "report" in j.name)
    assert report.cron_expression == "30 2 * * *"


def test_dry_run_defines_nothing_and_needs_no_server(
    cli: Cli, client: schedo.Client, tmp_path: Path
) -> None:
    prefix = f"ct{uuid.uuid4().hex[:6]}"
    path = write(tmp_path, "*/5 * * * * echo five\n0 24 * * * echo bad hour\n@reboot echo x\n")
    r = cli.raw(
        "import-crontab",
        str(path),
        "--prefix",
        prefix,
        "--dry-run",
        "--json",
        "--timezone",
        "Asia/Tokyo",
    )
    assert r.exit_code == 2, r.output  # the bad hour, caught locally
    doc = json.loads(r.stdout)
    assert doc["dry_run"] is True and doc["timezone"] == "Asia/Tokyo"
    assert [e["status"] for e in doc["entries"]] == ["dry-run", "error", "skipped"]
    assert "hour" in doc["entries"][1]["error"]
    assert imported(client, prefix) == {}

    r = cli.raw("import-crontab", str(path), "--dry-run")
    assert "would be defined (dry run)" in r.stdout


def test_system_crontab_has_a_user_field(cli: Cli, client: schedo.Client, tmp_path: Path) -> None:
    prefix = f"ct{uuid.uuid4().hex[:6]}"
    text = (
        "SHELL=/bin/sh\n"
        "17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n"
        "@weekly nobody echo weekly\n"
        "0 1 * * * root\n"
    )
    path = write(tmp_path, text)
    r = cli(
        "import-crontab", str(path), "--prefix", prefix, "--system", "--timezone", "UTC", "--json"
    )
    assert r.exit_code == 2, r.output  # the last line has a user but no command
    entries = json.loads(r.stdout)["entries"]
    assert [e["status"] for e in entries] == ["defined", "defined", "error"]
    assert entries[0]["user"] == "root" and "root" in entries[0]["warnings"][0]
    assert entries[0]["cron_command"] == "cd / && run-parts --report /etc/cron.hourly"
    assert entries[1]["user"] == "nobody" and entries[1]["cron_command"] == "echo weekly"
    assert len(imported(client, prefix)) == 2

    # without --system the user is part of the command
    [entry] = parse("17 * * * * root echo hi\n", timezone="UTC")
    assert entry.raw_command == "root echo hi" and entry.user is None


def test_bad_options_and_files_exit_2(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "* * * * * echo hi\n")
    for args in (
        ("import-crontab", str(tmp_path / "missing")),
        ("import-crontab", str(path), "--timezone", "Mars/Olympus"),
        ("import-crontab", str(path), "--prefix", "a,b"),
        ("import-crontab", str(path), "--catch-up", "sometimes"),
    ):
        r = cli(*args)
        assert r.exit_code == 2, (args, r.output)
        assert r.stderr.startswith("schedo: ") and "Traceback" not in r.stderr
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe* * * * *")
    assert cli("import-crontab", str(binary)).exit_code == 2


def test_unreachable_server_exits_5(cli: Cli, tmp_path: Path) -> None:
    from tests.support.server import ADMIN_KEY, free_port

    path = write(tmp_path, "* * * * * echo hi\n")
    r = cli.raw(
        "import-crontab", str(path), "--url", f"http://127.0.0.1:{free_port()}", "--key", ADMIN_KEY
    )
    assert r.exit_code == 5, r.output


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/usr/local/bin/backup.sh --full", "backup-sh-full"),
        ("cd /srv && ./run.sh", "cd-srv-run-sh"),
        ("!!!", "command"),
        ("x" * 100, "x" * 40),
        ("Ünïcode stuff", "n-code-stuff"),
    ],
)
def test_slugs(command: str, expected: str) -> None:
    assert slug(command) == expected


def test_imported_commands_run_under_the_agent(
    cli: Cli, client: schedo.Client, tmp_path: Path, processes: list[Process]
) -> None:
    """The exports are quoted literally (no expansion, as in cron) and SHELL is honoured."""
    prefix = f"ct{uuid.uuid4().hex[:6]}"
    text = (
        'GREETING = "it\'s a $HOME test"\n'
        '0 0 1 1 * echo "$GREETING" 100\\%\n'
        "SHELL=/bin/bash\n"
        '0 0 1 1 * [[ -n $BASH_VERSION ]] && echo "bash: $GREETING"\n'
    )
    r = cli("import-crontab", str(write(tmp_path, text)), "--prefix", prefix, "--json")
    assert r.exit_code == 0, r.output
    names = [e["name"] for e in json.loads(r.stdout)["entries"]]
    jobs = imported(client, prefix)
    a = agent(processes, cli.server.url, ",".join(names), tmp_path)
    outputs = []
    for n in names:
        run = client.trigger_job(jobs[n].id)
        done = wait_run(client, jobs[n].id, run.id, TERMINAL, 20, a)
        assert done.status == "completed", done
        outputs.append(done.output)
    assert outputs == ["it's a $HOME test 100%\n", "bash: it's a $HOME test\n"]
    assert a.stop() == 0, a.stderr()
