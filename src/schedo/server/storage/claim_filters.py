"""The WHERE parts of a claim (``RunSql.claim``, ``claim_any``): which pending runs a puller
may take (its job codes, the job types, an agent's host and tags) and whether its key and
environment are still alive. Split from sql_runs.py for size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, exists, or_, true

from ..domain.model import JobType
from ..domain.targets import AgentMatch
from .db import Database
from .schema import api_keys, environments, executions


def access_alive(key_id: int, env_id: int) -> Any:
    """SQL: the key is unrevoked and the environment exists (two primary-key lookups)."""
    return and_(
        exists().where(api_keys.c.id == key_id, api_keys.c.revoked.is_(False)),
        exists().where(environments.c.id == env_id),
    )


def target_filter(types: Sequence[str], agent: AgentMatch | None) -> Any:
    """Command runs an agent may take (domain/targets.py): no target, or its host, or tags
    that are a subset of its tags. An agent that announced nothing takes untargeted runs."""
    if JobType.COMMAND.value not in types:
        return true()
    host_ok: Any = executions.c.target_host.is_(None)
    tags_ok: Any = executions.c.target_tags.is_(None)
    if agent is not None and agent.host:
        host_ok = or_(host_ok, executions.c.target_host == agent.host)
    if agent is not None and agent.tag_keys:
        tags_ok = or_(tags_ok, executions.c.target_tags.in_(list(agent.tag_keys)))
    return and_(host_ok, tags_ok)


def types_filter(db: Database, codes: Sequence[str] | None, types: Sequence[str]) -> Any:
    """``job_type IN types``; with codes named, kept off the index (``Database.not_indexed``):
    the codes' index finds their runs."""
    column = executions.c.job_type if codes is None else db.not_indexed(executions.c.job_type)
    return column.in_(list(types))


def codes_filter(db: Database, codes: Sequence[str] | None) -> Any:
    """``job_code IN codes``; None means every job code of the environment."""
    return true() if codes is None else db.among(executions.c.job_code, codes)
