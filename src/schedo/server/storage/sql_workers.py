"""Worker connections shared through the database (contract: contracts.WorkerStore)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select

from ..domain.targets import AgentMatch, AgentSeen
from .db import Conn, Database
from .schema import worker_connections as wc
from .schema import worker_heartbeats as hb

# built once (statement construction and its cache key cost more than running it)
_COUNT = (
    select(wc.c.job_code, func.count())
    .join(hb, (hb.c.environment_id == wc.c.environment_id) & (hb.c.worker_id == wc.c.worker_id))
    .where(wc.c.environment_id == bindparam("env_id"),
           wc.c.job_code.in_(bindparam("codes", expanding=True)),
           hb.c.last_seen >= bindparam("since", type_=hb.c.last_seen.type))
    .group_by(wc.c.job_code)
)
_COUNT_ONE = (
    select(wc.c.job_code, func.count())
    .join(hb, (hb.c.environment_id == wc.c.environment_id) & (hb.c.worker_id == wc.c.worker_id))
    .where(wc.c.environment_id == bindparam("env_id"), wc.c.job_code == bindparam("code"),
           hb.c.last_seen >= bindparam("since", type_=hb.c.last_seen.type))
    .group_by(wc.c.job_code)
)


def _beat_row(env_id: int, worker: str, now: datetime,
              agent: AgentMatch | None) -> dict[str, Any]:
    return {"environment_id": env_id, "worker_id": worker, "last_seen": now,
            "agent_host": agent.host if agent else None,
            "agent_tags": ",".join(agent.tags) if agent and agent.tags else None}


async def connected_agents(
    c: Conn, env_ids: Collection[int], since: datetime
) -> dict[int, list[AgentSeen]]:
    """The agents of these environments with a heartbeat at or after ``since`` that
    announced a host, by environment (target mode "all": one run per host)."""
    if not env_ids:
        return {}
    res = await c.execute(
        select(hb.c.environment_id, hb.c.agent_host, hb.c.agent_tags)
        .where(hb.c.environment_id.in_(sorted(env_ids)), hb.c.last_seen >= since,
               hb.c.agent_host.is_not(None)))
    out: dict[int, list[AgentSeen]] = {}
    for env_id, host, tags in res:
        out.setdefault(env_id, []).append(
            AgentSeen(host, frozenset(t for t in (tags or "").split(",") if t)))
    return out


class WorkerSql:
    db: Database

    async def touch_connections(
        self, env_id: int, codes: Sequence[str], worker: str, now: datetime,
        agent: AgentMatch | None = None,
    ) -> None:
        if not codes:
            return
        rows = [{"environment_id": env_id, "job_code": c, "worker_id": worker, "last_seen": now}
                for c in codes]
        stmt = self.db.insert(wc)
        stmt = stmt.on_conflict_do_update(
            index_elements=["environment_id", "job_code", "worker_id"],
            set_={"last_seen": stmt.excluded.last_seen},
        )
        async with self.db.write() as c:
            await c.execute(stmt, rows)
            await c.execute(self._beat(), _beat_row(env_id, worker, now, agent))

    def _beat(self) -> Any:
        stmt = self.db.insert(hb)
        return stmt.on_conflict_do_update(
            index_elements=["environment_id", "worker_id"],
            set_={"last_seen": stmt.excluded.last_seen, "agent_host": stmt.excluded.agent_host,
                  "agent_tags": stmt.excluded.agent_tags},
        )

    async def heartbeat(self, env_id: int, worker: str, now: datetime,
                        agent: AgentMatch | None = None) -> None:
        async with self.db.write() as c:
            await c.execute(self._beat(), _beat_row(env_id, worker, now, agent))

    async def drop_connections(self, env_id: int, codes: Sequence[str], worker: str) -> None:
        async with self.db.write() as c:
            await c.execute(delete(wc).where(wc.c.environment_id == env_id,
                                             wc.c.job_code.in_(list(codes)),
                                             wc.c.worker_id == worker))

    async def count_connections(
        self, env_id: int, codes: Sequence[str], since: datetime
    ) -> dict[str, int]:
        if not codes:
            return {}
        if len(codes) == 1:  # GET /jobs/{id}: no expanding IN to render
            stmt, params = _COUNT_ONE, {"env_id": env_id, "code": codes[0], "since": since}
        else:
            stmt, params = _COUNT, {"env_id": env_id, "codes": list(codes), "since": since}
        async with self.db.read() as c:
            res = await c.execute(stmt, params)
            return {r[0]: int(r[1]) for r in res}

    async def prune_connections(self, before: datetime) -> int:
        async with self.db.write() as c:
            a = await c.execute(delete(wc).where(wc.c.last_seen < before))
            b = await c.execute(delete(hb).where(hb.c.last_seen < before))
            return int(a.rowcount or 0) + int(b.rowcount or 0)
