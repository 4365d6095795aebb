"""Where a command job runs (issue 21): its ``target``, and which agent may take its runs.

A target is ``{"host": "db1"}`` (the agent on that host), ``{"tags": ["db", "eu"],
"mode": "any"}`` (any agent announcing all of these tags) or ``{"tags": [...], "mode":
"all"}`` (every connected agent announcing them: one run per host, ``fan_out``); no target:
any agent. A run
carries its job's target as two columns: ``target_host``, and ``target_tags``, the tags
sorted and comma-joined (``db,eu``). An agent announces its host and tags; it may take a run
whose ``target_host`` is null or its host, and whose ``target_tags`` is null or one of the
subsets of its tags (``tag_keys``: equality in SQL, the same on SQLite and PostgreSQL).

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import combinations
from typing import Any

from ...limits import TAGS_MAX
from .errors import InvalidInput

TAG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")
MAX_TAGS = TAGS_MAX  # per agent and per target (an agent's subsets: at most 1,024)
MODES = ("any", "all")
# An agent counts as connected while its heartbeat is younger than this (the connection
# window of SPEC 2.3, shared with ``connections_count``).
CONNECTED_WITHIN = timedelta(seconds=30)
Lane = tuple[str | None, str | None]  # (target_host, target_tags) of a run


def tag(value: Any, field: str) -> str:
    if not isinstance(value, str) or not TAG.match(value.strip().lower()):
        raise InvalidInput(f"{field}: a tag is 1-63 characters: lowercase letters, digits, "
                           f"'.', '_' or '-', starting with a letter or digit ({value!r})")
    return value.strip().lower()


def host(value: Any, field: str) -> str:
    if not isinstance(value, str) or not HOST.match(value.strip()):
        raise InvalidInput(f"{field}: a host name is 1-253 characters: letters, digits, '.', "
                           f"'_' or '-' ({value!r})")
    return value.strip()


def tags(values: Any, field: str) -> list[str]:
    if not isinstance(values, list) or not values:
        raise InvalidInput(f"{field}: a non-empty list of tags")
    if len(values) > MAX_TAGS:
        raise InvalidInput(f"{field}: at most {MAX_TAGS} tags")
    return sorted({tag(v, field) for v in values})


def target(value: Any) -> dict[str, Any] | None:
    """The canonical target of a definition (None: any agent); InvalidInput naming the
    field otherwise."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput('target: an object, {"host": NAME} or {"tags": [...], '
                           '"mode": "any"}')
    unknown = set(value) - {"host", "tags", "mode"}
    if unknown:
        raise InvalidInput(f"target: unknown field {sorted(unknown)[0]!r}")
    if "host" in value:
        if set(value) != {"host"}:
            raise InvalidInput("target: either a host or tags, not both")
        return {"host": host(value["host"], "target.host")}
    mode = value.get("mode", "any")
    if mode not in MODES:
        raise InvalidInput('target.mode: must be "any" or "all"')
    return {"tags": tags(value.get("tags"), "target.tags"), "mode": mode}


def run_columns(value: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(target_host, target_tags) of a run of a job with this target."""
    if not value:
        return None, None
    if "host" in value:
        return str(value["host"]), None
    return None, ",".join(sorted(value.get("tags") or [])) or None


@dataclass(frozen=True, slots=True)
class AgentMatch:
    """What a pulling agent announced: its host and the keys of every subset of its tags."""

    host: str | None
    tag_keys: tuple[str, ...]
    tags: tuple[str, ...] = ()  # its own tags, sorted


def agent_match(host_value: str | None, tag_values: Sequence[str]) -> AgentMatch:
    if len(tag_values) > MAX_TAGS:
        raise InvalidInput(f"x-schedo-agent-tags: at most {MAX_TAGS} tags")
    own = sorted({tag(t, "x-schedo-agent-tags") for t in tag_values})
    keys = [",".join(c) for n in range(1, len(own) + 1) for c in combinations(own, n)]
    return AgentMatch(host(host_value, "x-schedo-agent-host") if host_value else None,
                      tuple(keys), tuple(own))


def describe(target_host: str | None, target_tags: str | None) -> str | None:
    """The words an expiry uses for a run's target (None: no target)."""
    if target_host:
        return f"no agent on host {target_host} connected?"
    if target_tags:
        return f"no agent with tags {target_tags.replace(',', ', ')} connected?"
    return None


# -- mode "all": one run per connected matching agent ------------------------------------


@dataclass(frozen=True, slots=True)
class AgentSeen:
    """A connected agent as its heartbeat recorded it: the host and tags it announced."""

    host: str
    tags: frozenset[str]


def fans_out(value: dict[str, Any] | None) -> bool:
    """Whether a job with this target gets one run per matching agent (``mode: all``)."""
    return value is not None and value.get("mode") == "all"


def lanes(value: dict[str, Any] | None, agents: Iterable[AgentSeen]) -> list[Lane]:
    """The (target_host, target_tags) of each run one tick (or trigger) of a job makes.

    Mode ``all``: one per distinct host among ``agents`` whose tags include every target tag
    (two agents on one host are one host: the runs are told apart by host), sorted by host;
    none matching: one run for the tags alone, which any matching agent that connects in its
    pick-up window takes, and which otherwise expires saying no such agent is connected.
    Any other target: its one lane (``run_columns``)."""
    one = run_columns(value)
    if not fans_out(value):
        return [one]
    want = set((value or {}).get("tags") or [])
    hosts = sorted({a.host for a in agents if want <= a.tags})
    return [(h, one[1]) for h in hosts] or [one]
