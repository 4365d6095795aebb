"""Reading a crontab for ``schedo import-crontab``: every line becomes an ``Entry`` (a job to
define, a skipped line with its warning, or an error with its line number), pure and
without a server.

What each kind of line becomes is the table of docs/cli.md ("schedo import-crontab"), pinned
by tests/cli/test_crontab.py. In short: comments and blank lines are ignored; ``NAME=value``
lines are exported to the commands below them (``CRON_TZ`` sets their zone, ``MAILTO`` is not
imported, ``SHELL`` wraps them); five time fields or an ``@macro`` and a command make a job
(``@reboot`` and an unescaped ``%`` are skipped with a warning); continuation lines and
anything else are errors. The system format (``/etc/crontab``, ``/etc/cron.d/*``, or
``--system``) has a user field after the times: it is kept in the job's metadata
(``crontab_user``) and warned about, not switched to; in any other file a user name in that
place stops the import (``user_column``), naming ``--system`` and ``--user``.

Job names are given by ``crontab_names.py`` (``--name-from``); ``job_name`` here is the
``command`` style: ``<prefix>-<slug of the command, at most 40 characters>-<6 hex digits of
the command's SHA-256>``. Names are stable, so importing an edited crontab again updates the
jobs in place instead of adding new ones.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import pwd
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..limits import COMMAND_MAX

MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
SLUG_MAX = 40
_FIELD = re.compile(r"^[A-Za-z0-9*,/\-?#]+$")
_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
PLAIN_SHELLS = frozenset({"/bin/sh", "sh", "/usr/bin/sh"})
SYSTEM_FILE = Path("/etc/crontab")
SYSTEM_DIR = Path("/etc/cron.d")
USER_KEY = "crontab_user"  # the job's metadata key for the system crontab's user column
_USER_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
# words a command may start with that are no programs on PATH: never read as a user name
SHELL_WORDS = frozenset(
    "alias bg break builtin case cd command continue do done echo elif else esac eval exec "
    "exit export false fi for function getopts hash if kill local printf pwd read readonly "
    "return select set shift source test then time times trap true type ulimit umask unalias "
    "unset until wait while".split()
)
NOT_EXPORTED = frozenset({"CRON_TZ", "MAILTO", "MAILFROM"})


@dataclass
class Entry:
    """One crontab line that becomes a job, or that has something to say."""

    line: int
    source: str
    status: str = "job"  # job | defined | dry-run | skipped | error
    schedule: str | None = None
    timezone: str | None = None
    raw_command: str | None = None  # the command as cron would run it (after \\% -> %)
    command: str | None = None  # what is sent: exports + (shell wrapper) + raw command
    user: str | None = None
    name: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    refused: bool = False  # the error is the server's refusal (not a parse error)
    job: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "status": self.status,
            "name": self.name,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "command": self.command,
            "cron_command": self.raw_command,
            "user": self.user,
            "source": self.source,
            "warnings": self.warnings,
            "error": self.error,
            "job": self.job,
        }


# -- parsing -----------------------------------------------------------------------------------


def quote(value: str) -> str:
    """Single-quote for /bin/sh: nothing inside is expanded."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _percent(command: str) -> tuple[str, bool]:
    """``\\%`` -> ``%``; and whether an unescaped ``%`` is present."""
    out: list[str] = []
    unescaped = False
    i = 0
    while i < len(command):
        c = command[i]
        if c == "\\" and command[i + 1 : i + 2] == "%":
            out.append("%")
            i += 2
            continue
        if c == "%":
            unescaped = True
        out.append(c)
        i += 1
    return "".join(out), unescaped


def valid_zone(name: str) -> bool:
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_zone() -> str:
    """This machine's IANA zone: ``TZ``, else the target of /etc/localtime, else
    /etc/timezone, else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if valid_zone(tz):
        return tz
    target = os.path.realpath("/etc/localtime")
    if "zoneinfo/" in target:
        name = target.split("zoneinfo/", 1)[1]
        for lead in ("posix/", "right/"):
            name = name.removeprefix(lead)
        if valid_zone(name):
            return name
    try:
        name = Path("/etc/timezone").read_text().strip()
    except OSError:
        name = ""
    return name if valid_zone(name) else "UTC"


def slug(command: str) -> str:
    """Lowercase words of the command joined by ``-``, at most ``SLUG_MAX`` characters; the
    folders of the program's path are left out (``/usr/bin/backup.sh x`` -> ``backup-sh-x``)."""
    words = command.split(None, 1)
    if words and "/" in words[0]:
        words[0] = words[0].rstrip("/").rsplit("/", 1)[-1]
    text = re.sub(r"[^a-z0-9]+", "-", " ".join(words).lower()).strip("-")
    return text[:SLUG_MAX].rstrip("-") or "command"


def job_name(prefix: str, command: str) -> str:
    digest = hashlib.sha256(command.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{prefix}-{slug(command)}-{digest}"


def current_user() -> str:
    """The user this process runs as (the agent's user, when it runs on this machine)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return getpass.getuser()


def is_system_path(path: str) -> bool:
    """``/etc/crontab`` or a file in ``/etc/cron.d`` (also through a symlink): the system
    crontab format, with a user field."""
    if path == "-":
        return False
    given = Path(os.path.abspath(path))
    for p in (given, given.resolve()):
        if p == SYSTEM_FILE or p.parent == SYSTEM_DIR:
            return True
    return False


def looks_like_user(word: str, rest: str) -> bool:
    """Whether ``word``, the first word of a command followed by ``rest``, is rather the
    user field of the system format: an account of this machine (or ``root``) that is no
    program on ``PATH`` and no shell word, with a command after it. A program that shares
    its name with an account (``sync``, ``man``) is read as the program."""
    if not rest.strip() or not _USER_NAME.match(word) or word in SHELL_WORDS:
        return False
    if shutil.which(word) is not None or rest.lstrip().startswith("-"):
        return False  # ``mail -s hi root``: what follows is an argument, not a command
    if word == "root":
        return True
    if not _starts_command(rest):
        return False
    try:
        pwd.getpwnam(word)
    except KeyError:
        return False
    return True


def _starts_command(rest: str) -> bool:
    """Whether ``rest`` starts with a command: a path, a program on ``PATH`` or a shell word."""
    first = rest.split(None, 1)[0]
    return "/" in first or first in SHELL_WORDS or shutil.which(first) is not None


def user_column(entries: list[Entry]) -> Entry | None:
    """The first entry (parsed in the user format) whose command starts with a user name."""
    for e in entries:
        if e.raw_command is None or e.status not in ("job", "skipped"):
            continue
        words = e.raw_command.split(None, 1)
        if len(words) == 2 and looks_like_user(words[0], words[1]):
            return e
    return None


@dataclass
class _State:
    timezone: str
    system: bool
    agent_user: str
    env: dict[str, str] = field(default_factory=dict)
    shell: str | None = None


def parse(
    text: str, *, timezone: str, system: bool = False, agent_user: str | None = None
) -> list[Entry]:
    """Every line of ``text`` that defines a job or has a warning or an error, in order.
    Entries to define have status ``job``. ``agent_user``: the user commands will run as
    (default: this process's), for the warning on a different user field."""
    state = _State(
        timezone=timezone, system=system, agent_user=agent_user or current_user()
    )
    entries: list[Entry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        entry = Entry(line=number, source=line)
        if stripped.endswith("\\"):
            entry.status = "error"
            entry.error = "line continuation is not supported (cron reads every line alone)"
        elif stripped[0].isdigit() or stripped[0] in "*@":
            _parse_entry(stripped, entry, state)
        else:
            m = _ASSIGN.match(line)
            if m is None:
                entry.status = "error"
                entry.error = "neither a cron entry (5 time fields and a command) nor NAME=value"
            elif not _assign(m.group(1), _unquote(m.group(2)), entry, state):
                continue
        entries.append(entry)
    return entries


def _assign(name: str, value: str, entry: Entry, state: _State) -> bool:
    """Apply ``NAME=value``; True if the line should be listed (a warning or an error)."""
    if name == "CRON_TZ":
        if not valid_zone(value):
            entry.status = "error"
            entry.error = f"CRON_TZ: unknown time zone {value!r}"
            return True
        state.timezone = value
        return False
    if name in ("MAILTO", "MAILFROM"):
        entry.status = "skipped"
        entry.warnings.append(
            f"{name} is not imported: Schedo mails the organisation's addresses "
            "(schedo emails add ADDR)"
        )
        return True
    if name == "SHELL":
        state.shell = None if value in PLAIN_SHELLS else value
    state.env.pop(name, None)
    state.env[name] = value
    return False


def _parse_entry(text: str, entry: Entry, state: _State) -> None:
    user_fields = 1 if state.system else 0
    if text.startswith("@"):
        parts = text.split(None, 1 + user_fields)
        macro = parts[0].lower()
        if macro == "@reboot":
            entry.status = "skipped"
            entry.warnings.append("@reboot has no Schedo equivalent: not imported")
            return
        if macro not in MACROS:
            entry.status = "error"
            entry.error = f"unknown schedule {parts[0]!r} (known: {', '.join(sorted(MACROS))})"
            return
        schedule = macro
        rest = parts[1:]
    else:
        parts = text.split(None, 5 + user_fields)
        fields, rest = parts[:5], parts[5:]
        if len(fields) < 5:
            rest = []
        for name, value in zip(FIELD_NAMES, fields, strict=False):
            if not _FIELD.match(value):
                entry.status = "error"
                entry.error = f"{name} field: {value!r} is not a cron field"
                return
        schedule = " ".join(fields)
    if len(rest) < 1 + user_fields or not rest[-1].strip():
        entry.status = "error"
        what = "the user and the command" if state.system else "a command"
        entry.error = f"expected 5 time fields (or an @schedule) followed by {what}"
        return
    if state.system:
        entry.user = rest[0]
        if entry.user != state.agent_user:
            entry.warnings.append(
                f"user {entry.user!r} is not switched to: the agent runs the command as its "
                f"own user ({state.agent_user!r} here)"
            )
    raw, unescaped = _percent(rest[-1].strip())
    entry.schedule = schedule
    entry.timezone = state.timezone
    entry.raw_command = raw
    if unescaped:
        entry.status = "skipped"
        entry.warnings.append(
            "unescaped % (cron turns it into a newline and feeds the rest to stdin): not "
            "imported; escape it as \\% or move the input into a script"
        )
        return
    body = raw if state.shell is None else f"exec {quote(state.shell)} -c {quote(raw)}"
    exports = "".join(f"export {k}={quote(v)}; " for k, v in state.env.items())
    entry.command = exports + body
    if len(entry.command) > COMMAND_MAX:
        entry.status = "error"
        entry.error = (
            f"command is {len(entry.command)} characters with its environment; "
            f"the server allows {COMMAND_MAX}"
        )
