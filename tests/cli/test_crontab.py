"""``schedo import-crontab``: every kind of crontab line, imported into a real server (the
result is checked through the API), and the imported commands run by a real agent."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import schedo
from schedo.cli.crontab_parse import (
    USER_KEY,
    current_user,
    is_system_path,
    job_name,
    parse,
    slug,
    user_column,
)
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
        "import-crontab", str(path), "--prefix", prefix, "--timezone", "Europe/Berlin", "--json",
        "--name-from", "command",  # the earlier names (slug and hash), pinned below
    )  # fmt: skip
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
    doc = json.loads(r.stdout)
    assert doc["format"] == "system"
    entries = doc["entries"]
    assert [e["status"] for e in entries] == ["defined", "defined", "error"]
    assert entries[0]["user"] == "root"
    assert entries[0]["cron_command"] == "cd / && run-parts --report /etc/cron.hourly"
    assert entries[1]["user"] == "nobody" and entries[1]["cron_command"] == "echo weekly"
    me = current_user()
    for e in entries[:2]:
        warned = [w for w in e["warnings"] if "not switched to" in w]
        assert bool(warned) == (e["user"] != me), e
        if warned:
            assert repr(e["user"]) in warned[0] and repr(me) in warned[0]
    jobs = imported(client, prefix)
    assert len(jobs) == 2
    # the user column is kept with the job
    assert {j.metadata.get(USER_KEY) for j in jobs.values()} == {"root", "nobody"}

    # read as a user crontab the user is part of the command
    [entry] = parse("17 * * * * root echo hi\n", timezone="UTC")
    assert entry.raw_command == "root echo hi" and entry.user is None
    [entry] = parse("17 * * * * root echo hi\n", timezone="UTC", system=True, agent_user="ops")
    assert entry.raw_command == "echo hi" and entry.user == "root"
    assert entry.warnings == [
        "user 'root' is not switched to: the agent runs the command as its own user ('ops' here)"
    ]


# Debian's /etc/crontab, as shipped (cron 3.0pl1)
DEBIAN_CRONTAB = """\
# /etc/crontab: system-wide crontab
# Unlike any other crontab you don't have to run the `crontab'
# command to install the new version when you edit this file
# and files in /etc/cron.d. These files also have username fields,
# that none of the other crontabs do.

SHELL=/bin/sh
# You can also override PATH, but by default, newer versions inherit it from the environment
#PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

# Example of job definition:
# .---------------- minute (0 - 59)
# |  .------------- hour (0 - 23)
# |  |  .---------- day of month (1 - 31)
# |  |  |  .------- month (1 - 12) OR jan,feb,mar,apr ...
# |  |  |  |  .---- day of week (0 - 6) (Sunday=0 or 7) OR sun,mon,tue,wed,thu,fri,sat
# |  |  |  |  |
# *  *  *  *  * user-name command to be executed
17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly
25 6\t* * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }
47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }
52 6\t1 * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }
"""


def test_a_system_crontab_is_not_read_as_a_user_crontab(
    cli: Cli, client: schedo.Client, tmp_path: Path
) -> None:
    """Issue 16.6: the README's ``schedo import-crontab /etc/crontab`` defined jobs whose
    command began with ``root`` (each run failed ``root: not found``)."""
    prefix = f"ct{uuid.uuid4().hex[:6]}"
    copy = write(tmp_path, DEBIAN_CRONTAB)
    # a copy elsewhere: the user column is recognised and the import refused, naming --system
    for extra in ((), ("--dry-run",)):
        r = cli("import-crontab", str(copy), "--prefix", prefix, "--timezone", "UTC", *extra)
        assert r.exit_code == 2, r.output
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("schedo: ")
        assert "line 19" in r.stderr and "'root'" in r.stderr
        assert "--system" in r.stderr and "--user" in r.stderr
    assert imported(client, prefix) == {}
    # stdin too
    r = cli("import-crontab", "-", "--prefix", prefix, input=DEBIAN_CRONTAB)
    assert r.exit_code == 2 and "stdin: line 19" in r.stderr, r.output
    # --user keeps the old reading, on purpose
    r = cli("import-crontab", str(copy), "--user", "--dry-run", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["format"] == "user"
    assert all(e["cron_command"].startswith("root\t") for e in doc["entries"])
    # --system reads it right
    r = cli("import-crontab", str(copy), "--system", "--prefix", prefix, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["format"] == "system"
    assert [(e["line"], e["user"]) for e in doc["entries"]] == [
        (19, "root"), (20, "root"), (21, "root"), (22, "root")
    ]
    assert doc["entries"][0]["cron_command"] == "cd / && run-parts --report /etc/cron.hourly"
    jobs = imported(client, prefix)
    assert len(jobs) == 4
    assert all(not j.command.split()[-1].startswith("root") for j in jobs.values())  # type: ignore[union-attr]
    assert all(j.metadata == {USER_KEY: "root"} for j in jobs.values())


def test_system_paths_are_read_in_the_system_format(
    cli: Cli, client: schedo.Client, tmp_path: Path, processes: list[Process]
) -> None:
    """/etc/crontab and /etc/cron.d/* (also through a symlink) need no --system; the command
    then runs under a real agent without its user column."""
    assert is_system_path("/etc/crontab") and is_system_path("/etc/cron.d/anything")
    assert not is_system_path("/etc/crontab.bak") and not is_system_path("/etc/cron.daily/x")
    assert not is_system_path("-") and not is_system_path(str(tmp_path / "crontab"))
    real = sorted(p for p in Path("/etc/cron.d").glob("*") if p.is_file() and
                  not p.name.startswith(".")) if Path("/etc/cron.d").is_dir() else []
    link = tmp_path / "linked-crontab"
    if real:  # a real system file of this machine, read where it lies and through a link
        link.symlink_to(real[0])
        for path in (real[0], link):
            r = cli("import-crontab", str(path), "--dry-run", "--json")
            assert r.exit_code in (0, 2), r.output
            doc = json.loads(r.stdout)
            assert doc["format"] == "system"
            assert all(e["user"] for e in doc["entries"] if e["status"] == "dry-run"), doc
    # a system line imported and run: its output is the command's, not "root: not found"
    prefix = f"ct{uuid.uuid4().hex[:6]}"
    path = write(tmp_path, "0 0 1 1 * root echo ran as $(id -un)\n")
    r = cli("import-crontab", str(path), "--system", "--prefix", prefix, "--json")
    assert r.exit_code == 0, r.output
    [name] = [e["name"] for e in json.loads(r.stdout)["entries"]]
    job = imported(client, prefix)[name]
    a = agent(processes, cli.server.url, name, tmp_path)
    run = client.trigger_job(job.id)
    done = wait_run(client, job.id, run.id, TERMINAL, 20, a)
    assert done.status == "completed", done
    assert done.output == f"ran as {current_user()}\n"
    assert a.stop() == 0, a.stderr()
    if current_user() != "root":  # the agent says it does not switch users
        assert "crontab user 'root'" in a.stderr()


@pytest.mark.parametrize(
    "command",
    [
        "echo root", "root-cleanup.sh", "cd /tmp && ls", "/usr/bin/env true", "test -e /x",
        "true nobody", "sh -c 'echo hi'", "nobody", "rootless --flag", "ROOT echo",
        "exec nobody", "sync now", "mail -s hi root%body", "nobody -x", "nobody somearg",
    ],
)
def test_ordinary_commands_are_not_taken_for_a_user(command: str) -> None:
    entries = parse(f"* * * * * {command}\n", timezone="UTC")
    assert user_column(entries) is None, command


@pytest.mark.parametrize("command", ["root echo hi", "nobody /usr/bin/backup.sh", "root\tx"])
def test_a_user_name_before_the_command_is_noticed(command: str) -> None:
    [entry] = parse(f"@daily {command}\n", timezone="UTC")
    assert user_column([entry]) is entry


def test_paused_import_defines_paused_jobs(
    cli: Cli, client: schedo.Client, tmp_path: Path
) -> None:
    prefix = f"ct{uuid.uuid4().hex[:6]}"
    path = write(tmp_path, "* * * * * echo every minute\n@daily echo daily\n")
    r = cli("import-crontab", str(path), "--prefix", prefix, "--paused")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-1] == (
        "2 job(s) defined paused, 0 line(s) skipped, 0 error(s)"
    )
    jobs = imported(client, prefix)
    assert len(jobs) == 2
    assert all(j.paused and j.next_run_at is None for j in jobs.values())
    # importing again without --paused leaves them paused (a redefinition keeps the flag)
    r = cli("import-crontab", str(path), "--prefix", prefix, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["paused"] is False
    assert all(j.paused for j in imported(client, prefix).values())
    # the dry run says so too
    r = cli("import-crontab", str(path), "--prefix", prefix, "--paused", "--dry-run")
    assert "2 job(s) would be defined paused (dry run)" in r.stdout
    # and a live job imported again with --paused is paused
    other = f"ct{uuid.uuid4().hex[:6]}"
    assert cli("import-crontab", str(path), "--prefix", other).exit_code == 0
    assert not any(j.paused for j in imported(client, other).values())
    assert cli("import-crontab", str(path), "--prefix", other, "--paused").exit_code == 0
    assert all(j.paused for j in imported(client, other).values())


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


def test_script_names_are_short_deduplicated_and_stable(
    cli: Cli, client: schedo.Client, tmp_path: Path
) -> None:
    """The default ``--name-from script``: the script's base name, ``-2`` for the second line
    with the same script, and the same names (the same jobs) when imported again."""
    prefix = f"ct{uuid.uuid4().hex[:6]}"
    text = (
        "0 1 * * * /usr/local/bin/pg_backup.sh --full >> /var/log/pg_backup.log 2>&1\n"
        "0 13 * * * /usr/local/bin/pg_backup.sh --incremental\n"
        "*/5 * * * * cd /srv/app && python3 manage.py clearsessions\n"
        "@daily !!!\n"
    )
    path = write(tmp_path, text)
    r = cli.raw("import-crontab", str(path), "--prefix", prefix, "--dry-run", "--timezone", "UTC")
    assert r.exit_code == 0, r.output
    for name in (f"{prefix}-pg-backup ", f"{prefix}-pg-backup-2", f"{prefix}-manage "):
        assert name in r.stdout  # the preview shows the names
    r = cli("import-crontab", str(path), "--prefix", prefix, "--timezone", "UTC", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["name_from"] == "script"
    names = [e["name"] for e in doc["entries"]]
    assert names[:3] == [f"{prefix}-pg-backup", f"{prefix}-pg-backup-2", f"{prefix}-manage"]
    assert names[3] == job_name(prefix, "!!!")  # no script: the command style
    before = {n: j.id for n, j in imported(client, prefix).items()}
    assert set(before) == set(names)
    assert imported(client, prefix)[f"{prefix}-pg-backup-2"].command.endswith("--incremental")

    r = cli("import-crontab", str(path), "--prefix", prefix, "--timezone", "UTC", "--json")
    assert r.exit_code == 0, r.output
    assert [e["name"] for e in json.loads(r.stdout)["entries"]] == names
    assert {n: j.id for n, j in imported(client, prefix).items()} == before

    r = cli.raw("import-crontab", str(path), "--name-from", "file", "--dry-run")
    assert r.exit_code == 2 and "--name-from" in r.output


def test_reimport_keeps_the_names_an_earlier_import_gave(
    cli: Cli, client: schedo.Client, tmp_path: Path
) -> None:
    """A crontab imported before short names (``--name-from command``, the old names) and
    imported again with the default keeps its jobs: no second set running every line twice.
    New lines get short names."""
    prefix = f"ct{uuid.uuid4().hex[:6]}"
    path = write(tmp_path, "0 1 * * * /usr/local/bin/pg_backup.sh --full\n")
    r = cli("import-crontab", str(path), "--prefix", prefix, "--timezone", "UTC",
            "--name-from", "command", "--json")
    assert r.exit_code == 0, r.output
    [old] = [e["name"] for e in json.loads(r.stdout)["entries"]]
    before = {n: j.id for n, j in imported(client, prefix).items()}
    assert list(before) == [old]
    path = write(tmp_path, "0 1 * * * /usr/local/bin/pg_backup.sh --full\n"
                           "0 2 * * * /usr/local/bin/vacuum.sh\n")
    r = cli("import-crontab", str(path), "--prefix", prefix, "--timezone", "UTC", "--json")
    assert r.exit_code == 0, r.output
    entries = json.loads(r.stdout)["entries"]
    assert [e["name"] for e in entries] == [old, f"{prefix}-vacuum"]
    assert any("kept the name" in w for w in entries[0]["warnings"])
    after = {n: j.id for n, j in imported(client, prefix).items()}
    assert after[old] == before[old] and set(after) == {old, f"{prefix}-vacuum"}
