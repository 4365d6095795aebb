"""Where a command job runs (issue 21): its ``target``, and which agent may take its runs.

A target is ``{"host": "db1"}`` (the agent on that host) or ``{"tags": ["db", "eu"],
"mode": "any"}`` (any agent announcing all of these tags); no target: any agent. A run
carries its job's target as two columns: ``target_host``, and ``target_tags``, the tags
sorted and comma-joined (``db,eu``). An agent announces its host and tags; it may take a run
whose ``target_host`` is null or its host, and whose ``target_tags`` is null or one of the
subsets of its tags (``tag_keys``: equality in SQL, the same on SQLite and PostgreSQL).

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from .errors import InvalidInput

TAG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")
MAX_TAGS = 10  # per agent and per target (an agent's subsets: at most 1,024)
MODES = ("any",)


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
    if mode == "all":
        raise InvalidInput('target.mode: "all" (one run per agent) is not supported yet; '
                           'use "any"')
    if mode not in MODES:
        raise InvalidInput('target.mode: must be "any"')
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


def agent_match(host_value: str | None, tag_values: Sequence[str]) -> AgentMatch:
    if len(tag_values) > MAX_TAGS:
        raise InvalidInput(f"x-schedo-agent-tags: at most {MAX_TAGS} tags")
    own = sorted({tag(t, "x-schedo-agent-tags") for t in tag_values})
    keys = [",".join(c) for n in range(1, len(own) + 1) for c in combinations(own, n)]
    return AgentMatch(host(host_value, "x-schedo-agent-host") if host_value else None,
                      tuple(keys))


def describe(target_host: str | None, target_tags: str | None) -> str | None:
    """The words an expiry uses for a run's target (None: no target)."""
    if target_host:
        return f"no agent on host {target_host} connected?"
    if target_tags:
        return f"no agent with tags {target_tags.replace(',', ', ')} connected?"
    return None
