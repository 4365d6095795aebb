"""Job names for ``schedo import-crontab`` (``--name-from``), pure and deterministic.

- ``script`` (default): ``<prefix>-<slug of the script's base name>``: the program the line
  runs, found by skipping ``NAME=value`` assignments, wrappers (``sudo``, ``nice``,
  ``timeout 60``, ``env``, ``exec``, ``flock FILE``, …) and interpreters (``bash x.sh``,
  ``python3 job.py``), and in ``cd DIR && ./run.sh`` the command after the ``cd``; its folders
  and a script extension (``.sh``, ``.py``, …) are dropped: ``/usr/local/bin/pg_backup.sh
  --full >> /var/log/x.log`` -> ``cron-pg-backup``.
- ``command``: the previous names, ``<prefix>-<slug of the command>-<6 hex of its SHA-256>``.
- ``hash``: ``<prefix>-<8 hex digits of the command's SHA-256>``.

Within one import a name already given gets ``-2``, ``-3``… (the first free one) in file
order, so importing the same crontab again gives the same names. A name shorter than the
server's minimum (``NAME_MIN``) falls back to the ``command`` style. Names keep to the
server's job-name rules: 4-200 characters, no commas, no white space at the ends, no
control characters (the prefix is at most 100 characters, a slug at most 40).
"""

from __future__ import annotations

import hashlib
import re
import shlex

from ..limits import NAME_MIN
from .crontab_parse import SLUG_MAX, Entry, job_name

NAME_FROM = ("script", "command", "hash")
# programs that run the next word (after their options) as the actual command
WRAPPERS = frozenset(
    "sudo nice ionice nohup env exec time chronic flock timeout setsid stdbuf caffeinate "
    "systemd-cat run-one cronic".split()
)
# wrappers whose first non-option argument is theirs, not the command's
WRAPPER_ARG = frozenset({"flock", "timeout"})
_VALUED = {
    "sudo": ("-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"),
    "nice": ("-n",), "ionice": ("-c", "-n", "-p"), "env": ("-u", "-C", "-S"),
    "timeout": ("-s", "-k"), "flock": ("-w", "-E", "-c"),
}  # fmt: skip
INTERPRETERS = re.compile(
    r"^(sh|bash|dash|zsh|ksh|python[0-9.]*|perl|ruby|node|php[0-9.]*|Rscript|lua|tclsh)$"
)
SCRIPT_EXT = re.compile(r"\.(sh|bash|py|pl|rb|js|php|r|lua|tcl)$", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECT = re.compile(r"^[0-9]*[<>]")
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})
_GROUPING = frozenset({"(", ")", "{", "}", "!"})
_SKIPPED_PROGRAMS = frozenset({"cd", "test", "[", "true", ":", "sleep", "source", "."})


def _words(command: str) -> list[str]:
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        return list(lexer)
    except ValueError:  # unbalanced quotes
        return command.split()


def _segments(words: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for w in words:
        if w in _SEPARATORS or set(w) <= set(";&|"):
            out.append([])
        else:
            out[-1].append(w)
    return [s for s in out if s]


def _program(segment: list[str]) -> str | None:
    """The script or program a simple command runs, or None."""
    i = 0
    while i < len(segment):
        w = segment[i]
        base = w.rstrip("/").rsplit("/", 1)[-1]
        if _REDIRECT.match(w):
            return None
        if _ASSIGNMENT.match(w) or w.startswith("-") or w[:1].isdigit():
            i += 1
            continue
        if w in _GROUPING:
            i += 1
            continue
        if base in WRAPPERS:
            i += 1
            # skip the wrapper's options, and the value of those that take one
            while i < len(segment) and segment[i].startswith("-"):
                i += 2 if segment[i] in _VALUED.get(base, ()) else 1
            if base in WRAPPER_ARG and i < len(segment):
                i += 1
            continue
        if INTERPRETERS.match(base):
            args = segment[i + 1 :]
            if "-c" in args and args.index("-c") + 1 < len(args):  # sh -c 'the command'
                inner = _segments(_words(args[args.index("-c") + 1]))
                return (_program(inner[0]) if inner else None) or w
            rest = [x for x in args if not x.startswith("-")]
            if rest and rest[0][:1] not in "<>":
                return rest[0]
            return w
        return w
    return None


def script_slug(command: str) -> str:
    """The slug of the command's script base name (``""`` when there is none)."""
    segments = _segments(_words(command))
    chosen: str | None = None
    for seg in segments:
        program = _program(seg)
        if program is None:
            continue
        if program.rstrip("/").rsplit("/", 1)[-1] in _SKIPPED_PROGRAMS and chosen is None:
            chosen = program if len(segments) == 1 else None
            continue
        chosen = program
        break
    if chosen is None:
        return ""
    base = SCRIPT_EXT.sub("", chosen.rstrip("/").rsplit("/", 1)[-1])
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:SLUG_MAX].rstrip("-")


def base_name(prefix: str, command: str, name_from: str) -> str:
    """The name before deduplication."""
    if name_from == "hash":
        digest = hashlib.sha256(command.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        return f"{prefix}-{digest}"
    if name_from == "script":
        s = script_slug(command)
        if s and len(prefix) + 1 + len(s) >= NAME_MIN:
            return f"{prefix}-{s}"
    return job_name(prefix, command)


def name_entries(
    entries: list[Entry], prefix: str, name_from: str = "script",
    existing: frozenset[str] = frozenset(),
) -> None:
    """Give every entry to define its job name (unique in this import, in file order), and
    flag exact duplicates. A line whose ``command``-style name (what imports made before
    ``--name-from``) is among ``existing`` (the environment's job names) keeps that name, so
    re-importing a crontab imported earlier updates its jobs instead of adding a second set
    that would run every line twice."""
    if name_from not in NAME_FROM:
        raise ValueError(name_from)
    used: set[str] = set()
    first_line: dict[tuple[str | None, str | None, str | None], int] = {}
    for e in entries:
        if e.status != "job" or e.raw_command is None:
            continue
        earlier = base_name(prefix, e.raw_command, "command")
        if name_from != "command" and earlier in existing and earlier not in used:
            base = earlier
            e.warnings.append(f"kept the name {earlier!r} an earlier import gave this line")
        else:
            base = base_name(prefix, e.raw_command, name_from)
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        e.name = name
        key = (e.schedule, e.raw_command, e.user)
        if key in first_line:
            e.warnings.append(
                f"same schedule and command as line {first_line[key]} (cron runs both; "
                "so will Schedo)"
            )
        else:
            first_line[key] = e.line
