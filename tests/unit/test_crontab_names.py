"""Job names of ``schedo import-crontab --name-from``: derivation and deduplication (pure)."""

from __future__ import annotations

import re

import pytest

from schedo.cli.crontab_names import base_name, name_entries, script_slug
from schedo.cli.crontab_parse import job_name, parse
from schedo.limits import NAME_MAX, NAME_MIN


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/usr/local/bin/pg_backup.sh --full >> /var/log/x.log", "pg-backup"),
        ("/usr/bin/backup.sh 2>&1 | logger -t backup", "backup"),
        ("cd /srv && ./run.sh", "run"),
        ("FOO=1 nice -n 10 python3 /app/jobs/sync_users.py --all", "sync-users"),
        ("bash -x /opt/deploy/Deploy.SH", "deploy"),
        ("timeout 60 /usr/bin/curl -fsS https://example.com/ping", "curl"),
        ("flock -n /tmp/lock /usr/bin/php /var/www/cron.php", "cron"),
        ("sudo -u www-data /usr/bin/php artisan schedule:run", "artisan"),
        ("sh -c '/opt/tools/rotate_logs.sh now'", "rotate-logs"),
        ("test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )",
         "run-parts"),
        ("echo hi", "echo"),
        ("'unbalanced quote", "unbalanced"),
        ("/opt/" + "x" * 100 + ".sh", "x" * 40),
        ("!!!", ""),
        ("> /tmp/empty", ""),
        ("[[ -n $X ]] && true", ""),
    ],
)
def test_script_slug(command: str, expected: str) -> None:
    assert script_slug(command) == expected


def test_base_names_per_mode() -> None:
    cmd = "/usr/local/bin/pg_backup.sh --full"
    assert base_name("cron", cmd, "script") == "cron-pg-backup"
    assert base_name("cron", cmd, "command") == job_name("cron", cmd)
    assert re.fullmatch(r"cron-[0-9a-f]{8}", base_name("cron", cmd, "hash"))
    # no script, or too short for the server (4 characters at least): the command style
    assert base_name("cron", "!!!", "script") == job_name("cron", "!!!")
    assert base_name("c", "/bin/x", "script") == job_name("c", "/bin/x")
    assert base_name("c", "/bin/xy", "script") == "c-xy"


def _names(text: str, name_from: str = "script", prefix: str = "cron") -> list[str | None]:
    entries = parse(text, timezone="UTC", system=False)
    name_entries(entries, prefix, name_from)
    return [e.name for e in entries if e.status == "job"]


def test_duplicates_are_numbered_in_file_order_and_never_collide() -> None:
    text = (
        "0 1 * * * /bin/pg_backup.sh --full\n"
        "0 2 * * * /opt/pg-backup-2.sh\n"  # its own name is what the dedup would pick next
        "0 3 * * * /bin/pg_backup.sh --incremental\n"
        "0 4 * * * /bin/pg_backup.sh --full\n"
    )
    names = _names(text)
    assert names == ["cron-pg-backup", "cron-pg-backup-2", "cron-pg-backup-3",
                     "cron-pg-backup-4"]  # fmt: skip
    assert _names(text) == names  # deterministic: the same crontab, the same names
    hashed = _names(text, "hash")
    assert hashed[3] == hashed[0] + "-2" and len(set(hashed)) == 4
    assert _names(text, "command")[3] == job_name("cron", "/bin/pg_backup.sh --full") + "-2"


def test_names_keep_to_the_server_rules() -> None:
    commands = ["/bin/a,b.sh", "/bin/\u00e9t\u00e9.sh", "/bin/ x .sh", "--", "x", "/" * 5]
    text = "".join(f"* * * * * {c}\n" for c in commands)
    prefix = "p" * 100
    for mode in ("script", "command", "hash"):
        for name in _names(text, mode, prefix) + _names(text, mode, "c"):
            assert name is not None
            assert NAME_MIN <= len(name) <= NAME_MAX, name
            assert "," not in name and name == name.strip(), name
            assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        name_entries([], "cron", "file")
